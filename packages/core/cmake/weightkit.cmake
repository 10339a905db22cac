# Shared CMake for every weightkit package: one way to build an addon, a plain
# core library and its C++ tests, so the packages stay alike.
#
#   weightkit_native_core(<target> SOURCES ...)   static library, no Node-API
#   weightkit_addon(<target> SOURCES ... LINK ...) the thin .node binding
#   weightkit_native_test(<target> SOURCES ... LINK ...) a test program
#
# WEIGHTKIT_SANITIZE=address|thread builds cores and tests with sanitizers
# (tools/native-sanitize); addons are never sanitized (Node is not).

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(WEIGHTKIT_CORE_INCLUDE "${CMAKE_CURRENT_LIST_DIR}/../native/include")

if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()

# Sanitizer builds (tools/hardening/sanitize.mjs): cores and their tests only.
set(WEIGHTKIT_SANITIZE "" CACHE STRING "address (ASan+UBSan) or thread (TSan); empty for a normal build")
if(WEIGHTKIT_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g)
  add_link_options(-fsanitize=address,undefined)
elseif(WEIGHTKIT_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=thread)
endif()
# Addons are built only under cmake-js (and never sanitized: Node itself is not).
if(CMAKE_JS_INC AND NOT WEIGHTKIT_SANITIZE)
  set(WEIGHTKIT_BUILD_ADDONS ON)
else()
  set(WEIGHTKIT_BUILD_ADDONS OFF)
endif()

set(WEIGHTKIT_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# node-addon-api's headers (cmake-js adds node-api-headers through CMAKE_JS_INC).
execute_process(COMMAND node -p "require('path').dirname(require.resolve('node-addon-api/package.json'))"
                WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR}
                OUTPUT_VARIABLE WEIGHTKIT_NODE_ADDON_API_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)

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
  target_compile_definitions(${target} PRIVATE NAPI_VERSION=9 NODE_ADDON_API_DISABLE_DEPRECATED
                                               NAPI_CPP_EXCEPTIONS)
  target_compile_options(${target} PRIVATE ${WEIGHTKIT_WARNINGS})
  target_link_libraries(${target} PRIVATE ${CMAKE_JS_LIB} ${ARG_LINK})
  if(MSVC AND CMAKE_JS_NODELIB_DEF AND CMAKE_JS_NODELIB_TARGET)
    execute_process(COMMAND ${CMAKE_AR} /def:${CMAKE_JS_NODELIB_DEF} /out:${CMAKE_JS_NODELIB_TARGET} ${CMAKE_STATIC_LINKER_FLAGS})
  endif()
endfunction()

function(weightkit_native_test target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  # Next to the .node so one build output folder holds everything a test runs.
  set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/Release")
  target_include_directories(${target} PRIVATE ${WEIGHTKIT_CORE_INCLUDE})
  target_compile_options(${target} PRIVATE ${WEIGHTKIT_WARNINGS})
  find_package(Threads REQUIRED)
  target_link_libraries(${target} PRIVATE ${ARG_LINK} Threads::Threads)
endfunction()
