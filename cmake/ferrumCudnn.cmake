# Creates the opt-in target ferrum::cudnn when the CUDA toolkit (cudart, cuBLAS) and cuDNN 9 are found.
# Linking it selects the cuDNN backend by default (FERRUM_USE_CUDNN) and links the GPU libraries.
# Used both by the source tree and by the installed ferrumConfig.cmake.
if(NOT TARGET ferrum::cudnn)
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND AND TARGET CUDA::cudart AND TARGET CUDA::cublas)
    find_path(FERRUM_CUDNN_INCLUDE_DIR cudnn.h
      HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV CUDNN_ROOT PATH_SUFFIXES include)
    find_library(FERRUM_CUDNN_LIBRARY cudnn
      HINTS ${CUDAToolkit_LIBRARY_DIR} ENV CUDNN_ROOT PATH_SUFFIXES lib lib64)
    if(FERRUM_CUDNN_INCLUDE_DIR AND FERRUM_CUDNN_LIBRARY)
      add_library(ferrum::cudnn INTERFACE IMPORTED GLOBAL)
      set_target_properties(ferrum::cudnn PROPERTIES
        INTERFACE_COMPILE_DEFINITIONS FERRUM_USE_CUDNN
        INTERFACE_INCLUDE_DIRECTORIES "${FERRUM_CUDNN_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES "ferrum::ferrum;CUDA::cudart;CUDA::cublas;${FERRUM_CUDNN_LIBRARY}")
    endif()
  endif()
endif()
