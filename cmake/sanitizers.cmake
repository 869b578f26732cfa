# ROLLER_SANITIZE: ASan + UBSan on everything; any report aborts the process.
# ROLLER_FUZZ: clang only. Everything is compiled with coverage instrumentation
# (-fsanitize=fuzzer-no-link) plus ASan/UBSan so libFuzzer sees inside our
# libraries; the fuzz executables themselves link -fsanitize=fuzzer
# (see roller_add_fuzzer in cmake/testing.cmake).
include_guard(GLOBAL)

set(ROLLER_SANITIZE_FLAGS
  -fsanitize=address,undefined
  -fno-sanitize-recover=all
  -fno-omit-frame-pointer
)

if(ROLLER_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "ROLLER_FUZZ=ON needs clang (libFuzzer); configure with CC=clang "
      "(current compiler: ${CMAKE_C_COMPILER_ID} ${CMAKE_C_COMPILER})")
  endif()
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
  check_c_source_compiles(
    "#include <stddef.h>
     #include <stdint.h>
     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { (void)data; (void)size; return 0; }"
    ROLLER_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  if(NOT ROLLER_HAVE_LIBFUZZER)
    message(FATAL_ERROR "ROLLER_FUZZ=ON but ${CMAKE_C_COMPILER} cannot link -fsanitize=fuzzer "
      "(on Debian 12: apt-get install libclang-rt-14-dev, or run tools/setup)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link ${ROLLER_SANITIZE_FLAGS})
  add_link_options(${ROLLER_SANITIZE_FLAGS})
elseif(ROLLER_SANITIZE)
  add_compile_options(${ROLLER_SANITIZE_FLAGS})
  add_link_options(${ROLLER_SANITIZE_FLAGS})
endif()
