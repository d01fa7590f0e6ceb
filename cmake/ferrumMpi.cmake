# Creates the optional target ferrum::mpi when MPI's C++ bindings are found (Debian: libopenmpi-dev and
# openmpi-bin). Linking it links MPI::MPI_CXX and defines FERRUM_WITH_MPI, which lets ferrum-rrl predict run
# one shard per rank under mpirun (docs/scaling.md). Used both by the source tree and by the installed
# ferrumConfig.cmake; a user without MPI sees no change.
if(NOT TARGET ferrum::mpi)
  find_package(MPI QUIET COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    add_library(ferrum::mpi INTERFACE IMPORTED GLOBAL)
    set_target_properties(ferrum::mpi PROPERTIES
      INTERFACE_COMPILE_DEFINITIONS FERRUM_WITH_MPI
      INTERFACE_LINK_LIBRARIES "ferrum::ferrum;MPI::MPI_CXX")
  endif()
endif()
