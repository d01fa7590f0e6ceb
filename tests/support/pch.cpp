// Translation unit that owns the tests' shared precompiled header (see tests/CMakeLists.txt).
