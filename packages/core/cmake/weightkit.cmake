# Shared CMake for every weightkit package: one way to build an addon, a plain
# core library and the native programs around it, so the packages stay alike.
#
#   weightkit_native_core(<target> SOURCES ... [INCLUDE ...] [LINK ...])  static library, no Node-API
#   weightkit_addon(<target> SOURCES ... [LINK ...])                        the thin .node binding
#   weightkit_native_program(<target> KIND test|fuzz|bench|interop SOURCES ... [LINK ...])
#
# Every native program is declared once, in its package's CMakeLists.txt with
# weightkit_native_program (defined here), and listed in
# ${CMAKE_BINARY_DIR}/native-programs.json at the end of configure; the test
# suite, the sanitizer and fuzz runners and the benchmarks read that list.
#   test      C++ tests of a core; run by `npm test` and under the sanitizers
#   fuzz      libFuzzer targets; built only with WEIGHTKIT_FUZZ=ON (clang)
#   bench     native measurements the benchmarks in tools/ run
#   interop   programs that need a real peer (XNNPACK): built only when
#             WEIGHTKIT_XNNPACK_DIR names a prebuilt XNNPACK
#
# Platform policy: Linux (glibc, x86-64 and arm64) is the one platform built
# and tested today. Linux-only calls are kept behind weightkit/platform.hpp.
#
# WEIGHTKIT_SANITIZE=address|thread builds cores and programs with sanitizers;
# addons are never sanitized (Node is not).

if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  message(FATAL_ERROR "weightkit builds on Linux only (see weightkit.cmake's platform policy)")
endif()

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(WEIGHTKIT_CORE_INCLUDE "${CMAKE_CURRENT_LIST_DIR}/../native/include")

if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()

set(WEIGHTKIT_SANITIZE "" CACHE STRING "address (ASan+UBSan) or thread (TSan); empty for a normal build")
option(WEIGHTKIT_FUZZ "build the libFuzzer targets (clang)" OFF)
if(WEIGHTKIT_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g)
  add_link_options(-fsanitize=address,undefined)
elseif(WEIGHTKIT_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=thread)
endif()
if(WEIGHTKIT_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g)
  add_link_options(-fsanitize=address,undefined)
endif()
# Addons are built only under cmake-js (and never sanitized or fuzzed).
if(CMAKE_JS_INC AND NOT WEIGHTKIT_SANITIZE AND NOT WEIGHTKIT_FUZZ)
  set(WEIGHTKIT_BUILD_ADDONS ON)
else()
  set(WEIGHTKIT_BUILD_ADDONS OFF)
endif()
# A prebuilt XNNPACK (include/, lib/) for the interop programs, read from the
# environment at every configure (never cached, so unsetting it takes effect).
set(WEIGHTKIT_XNNPACK_DIR "$ENV{WEIGHTKIT_XNNPACK_DIR}")
if(WEIGHTKIT_XNNPACK_DIR)
  get_filename_component(WEIGHTKIT_XNNPACK_DIR "${WEIGHTKIT_XNNPACK_DIR}" ABSOLUTE)
endif()

set(WEIGHTKIT_WARNINGS -Wall -Wextra -Wno-unused-parameter)
# Floating-point results must match JavaScript's bit for bit (dequantize.hpp):
# no fused multiply-add contraction on any architecture.
add_compile_options(-ffp-contract=off)

# Prebuilt binaries. With WEIGHTKIT_PREBUILD=ON (scripts/prebuild, run in a
# Debian 11 userland so the binaries need glibc 2.31 at most) only the addons
# and runtime libraries are built, stripped, and copied to
# <package>/prebuilds/linux-<arch>-glibc/, which the npm tarball ships. The
# workspace build and a user's build from source (`npx cmake-js compile` in
# the installed package) stay in build/Release, which the loader tries first.
option(WEIGHTKIT_PREBUILD "build stripped addons only, into the package's prebuilds/ folder" OFF)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(WEIGHTKIT_ARCH x64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(WEIGHTKIT_ARCH arm64)
else()
  set(WEIGHTKIT_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()
set(WEIGHTKIT_PREBUILD_DIR "${CMAKE_SOURCE_DIR}/prebuilds/linux-${WEIGHTKIT_ARCH}-glibc")

# `npm start` builds only the target weightkit_start: every binary the
# package ships (addons, runtime libraries) and the demo's interop programs;
# `npm test` and the benchmarks build the other native programs as well.
# A shipped binary is also stripped and copied to prebuilds/ under
# WEIGHTKIT_PREBUILD.
add_custom_target(weightkit_start)
function(weightkit_shipped target)
  add_dependencies(weightkit_start ${target})
  if(WEIGHTKIT_PREBUILD)
    target_link_options(${target} PRIVATE -s)
    add_custom_command(TARGET ${target} POST_BUILD
                       COMMAND ${CMAKE_COMMAND} -E make_directory "${WEIGHTKIT_PREBUILD_DIR}"
                       COMMAND ${CMAKE_COMMAND} -E copy "$<TARGET_FILE:${target}>" "${WEIGHTKIT_PREBUILD_DIR}/")
  endif()
endfunction()

# node-addon-api's headers (cmake-js adds node-api-headers through CMAKE_JS_INC).
if(WEIGHTKIT_BUILD_ADDONS)
  execute_process(COMMAND node -p "require('path').dirname(require.resolve('node-addon-api/package.json'))"
                  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
                  OUTPUT_VARIABLE WEIGHTKIT_NODE_ADDON_API_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

function(weightkit_native_core target)
  cmake_parse_arguments(ARG "" "" "SOURCES;INCLUDE;LINK" ${ARGN})
  add_library(${target} STATIC ${ARG_SOURCES})
  target_include_directories(${target} PUBLIC ${WEIGHTKIT_CORE_INCLUDE} ${ARG_INCLUDE})
  target_compile_options(${target} PRIVATE ${WEIGHTKIT_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_LINK})
endfunction()

function(weightkit_addon target)
  if(NOT WEIGHTKIT_BUILD_ADDONS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  add_library(${target} SHARED ${ARG_SOURCES} ${CMAKE_JS_SRC})
  set_target_properties(${target} PROPERTIES PREFIX "" SUFFIX ".node")
  target_include_directories(${target} PRIVATE ${CMAKE_JS_INC} ${WEIGHTKIT_NODE_ADDON_API_DIR} ${WEIGHTKIT_CORE_INCLUDE})
  target_compile_definitions(${target} PRIVATE NAPI_VERSION=9 NODE_ADDON_API_DISABLE_DEPRECATED NAPI_CPP_EXCEPTIONS)
  target_compile_options(${target} PRIVATE ${WEIGHTKIT_WARNINGS})
  # The prebuilt addon runs on any glibc Linux of the same architecture: no
  # libstdc++ or libgcc version requirement beyond the build machine's glibc.
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL)
  target_link_libraries(${target} PRIVATE ${CMAKE_JS_LIB} ${ARG_LINK})
  weightkit_shipped(${target})
endfunction()

set_property(GLOBAL PROPERTY WEIGHTKIT_PROGRAMS "")

function(weightkit_native_program target)
  cmake_parse_arguments(ARG "" "KIND" "SOURCES;LINK;INCLUDE" ${ARGN})
  if(NOT ARG_KIND MATCHES "^(test|fuzz|bench|interop)$")
    message(FATAL_ERROR "weightkit_native_program(${target}): KIND must be test, fuzz, bench or interop")
  endif()
  # Declared whether or not it is built here, so every runner sees the whole list.
  set(built true)
  if(ARG_KIND STREQUAL "fuzz" AND NOT WEIGHTKIT_FUZZ)
    set(built false)
  elseif(NOT ARG_KIND STREQUAL "fuzz" AND WEIGHTKIT_FUZZ)
    set(built false)
  elseif(WEIGHTKIT_PREBUILD)
    set(built false)
  elseif(ARG_KIND STREQUAL "interop" AND (NOT WEIGHTKIT_XNNPACK_DIR OR NOT EXISTS "${WEIGHTKIT_XNNPACK_DIR}/include/xnnpack.h"))
    set(built false)
  endif()
  # An installed package ships its library sources, not its programs.
  foreach(src ${ARG_SOURCES})
    if(NOT EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${src}")
      set(built false)
    endif()
  endforeach()
  get_property(list GLOBAL PROPERTY WEIGHTKIT_PROGRAMS)
  list(APPEND list "{\"name\":\"${target}\",\"kind\":\"${ARG_KIND}\",\"built\":${built}}")
  set_property(GLOBAL PROPERTY WEIGHTKIT_PROGRAMS "${list}")
  if(NOT built)
    return()
  endif()
  add_executable(${target} ${ARG_SOURCES})
  # Next to the .node so one build output folder holds everything a test runs.
  set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/Release")
  target_include_directories(${target} PRIVATE ${WEIGHTKIT_CORE_INCLUDE} ${ARG_INCLUDE})
  target_compile_options(${target} PRIVATE ${WEIGHTKIT_WARNINGS})
  find_package(Threads REQUIRED)
  target_link_libraries(${target} PRIVATE ${ARG_LINK} Threads::Threads)
  if(ARG_KIND STREQUAL "fuzz")
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  elseif(ARG_KIND STREQUAL "interop")
    add_dependencies(weightkit_start ${target})
    set(xnn "${WEIGHTKIT_XNNPACK_DIR}")
    target_include_directories(${target} PRIVATE "${xnn}/include")
    target_link_libraries(${target} PRIVATE "${xnn}/lib/libXNNPACK.a" "${xnn}/lib/libxnnpack-microkernels-prod.a"
                                            "${xnn}/lib/libcpuinfo.a" "${xnn}/lib/libpthreadpool.a" m)
  endif()
endfunction()

function(weightkit_write_program_list)
  get_property(list GLOBAL PROPERTY WEIGHTKIT_PROGRAMS)
  string(REPLACE ";" ",\n  " body "${list}")
  file(WRITE "${CMAKE_BINARY_DIR}/Release/native-programs.json" "[\n  ${body}\n]\n")
endfunction()
# The list matters only to a workspace build (CMake >= 3.19 here); a prebuild
# or an app's build from source builds no programs, and CMake 3.18 (Debian 11,
# where the prebuilds are made) has no DEFER.
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.19)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL weightkit_write_program_list)
endif()
