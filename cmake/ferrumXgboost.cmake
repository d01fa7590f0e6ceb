# Creates the optional target ferrum::xgboost when the XGBoost C API is found (Debian: libxgboost-dev,
# header xgboost/c_api.h and libxgboost.so). Linking it defines FERRUM_HAS_XGBOOST, which enables
# ferrum/relations/gradient_boosting.hpp. Used both by the source tree and by the installed ferrumConfig.cmake.
if(NOT TARGET ferrum::xgboost)
  find_path(FERRUM_XGBOOST_INCLUDE_DIR xgboost/c_api.h HINTS ENV XGBOOST_ROOT PATH_SUFFIXES include)
  find_library(FERRUM_XGBOOST_LIBRARY xgboost HINTS ENV XGBOOST_ROOT PATH_SUFFIXES lib lib64)
  if(FERRUM_XGBOOST_INCLUDE_DIR AND FERRUM_XGBOOST_LIBRARY)
    add_library(ferrum::xgboost INTERFACE IMPORTED GLOBAL)
    set_target_properties(ferrum::xgboost PROPERTIES
      INTERFACE_COMPILE_DEFINITIONS FERRUM_HAS_XGBOOST
      INTERFACE_INCLUDE_DIRECTORIES "${FERRUM_XGBOOST_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "ferrum::ferrum;${FERRUM_XGBOOST_LIBRARY}")
  endif()
endif()
