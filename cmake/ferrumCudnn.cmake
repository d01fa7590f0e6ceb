# Creates the opt-in target ferrum::cudnn when the CUDA toolkit (cudart, cuBLAS) and cuDNN 9 or newer are found.
# Linking it selects the cuDNN backend by default (FERRUM_USE_CUDNN) and links the GPU libraries.
# Used both by the source tree and by the installed ferrumConfig.cmake.
# cuDNN is looked for under the toolkit and $CUDNN_ROOT, by its unversioned name or, as pip wheels
# (nvidia-cudnn-cu12) ship it, only as libcudnn.so.9; its header's CUDNN_MAJOR must be 9 or more and must
# agree with the library's version suffix when the file name carries one.
if(NOT TARGET ferrum::cudnn)
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND AND TARGET CUDA::cudart AND TARGET CUDA::cublas)
    find_path(FERRUM_CUDNN_INCLUDE_DIR cudnn.h
      HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV CUDNN_ROOT PATH_SUFFIXES include)
    find_library(FERRUM_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
      HINTS ${CUDAToolkit_LIBRARY_DIR} ENV CUDNN_ROOT PATH_SUFFIXES lib lib64)
    set(_ferrum_cudnn_major "")
    if(FERRUM_CUDNN_INCLUDE_DIR)
      foreach(_h cudnn_version.h cudnn.h)
        if(_ferrum_cudnn_major STREQUAL "" AND EXISTS "${FERRUM_CUDNN_INCLUDE_DIR}/${_h}")
          file(STRINGS "${FERRUM_CUDNN_INCLUDE_DIR}/${_h}" _line REGEX "^#define CUDNN_MAJOR[ \t]+[0-9]+")
          if(_line)
            string(REGEX REPLACE "^#define CUDNN_MAJOR[ \t]+([0-9]+).*" "\\1" _ferrum_cudnn_major "${_line}")
          endif()
        endif()
      endforeach()
    endif()
    set(_ferrum_cudnn_ok FALSE)
    if(FERRUM_CUDNN_INCLUDE_DIR AND FERRUM_CUDNN_LIBRARY)
      if(_ferrum_cudnn_major STREQUAL "" OR _ferrum_cudnn_major LESS 9)
        message(STATUS "ferrum: cuDNN at ${FERRUM_CUDNN_INCLUDE_DIR} is version '${_ferrum_cudnn_major}'; "
                       "the cuDNN backend needs 9 or newer: ferrum::cudnn not created")
      else()
        get_filename_component(_lib_real "${FERRUM_CUDNN_LIBRARY}" REALPATH)
        get_filename_component(_lib_name "${_lib_real}" NAME)
        if(_lib_name MATCHES "\\.so\\.([0-9]+)" AND NOT CMAKE_MATCH_1 STREQUAL _ferrum_cudnn_major)
          message(STATUS "ferrum: cudnn.h says version ${_ferrum_cudnn_major} but ${_lib_real} is version "
                         "${CMAKE_MATCH_1}: header and library disagree, ferrum::cudnn not created "
                         "(set CUDNN_ROOT to one installation)")
        else()
          set(_ferrum_cudnn_ok TRUE)
        endif()
      endif()
    endif()
    if(_ferrum_cudnn_ok)
      add_library(ferrum::cudnn INTERFACE IMPORTED GLOBAL)
      set_target_properties(ferrum::cudnn PROPERTIES
        INTERFACE_COMPILE_DEFINITIONS FERRUM_USE_CUDNN
        INTERFACE_INCLUDE_DIRECTORIES "${FERRUM_CUDNN_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES "ferrum::ferrum;CUDA::cudart;CUDA::cublas;${FERRUM_CUDNN_LIBRARY}")
    endif()
  endif()
endif()
