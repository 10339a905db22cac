// weightkit/testing.hpp — the few macros the native test programs need.
// Each program runs its cases, prints one line per failure and a closing
// "N passed, N failed" line, and exits non-zero on any failure.
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace weightkit::testing {

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
inline int& failures_in_case() {
  static int n = 0;
  return n;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { cases().push_back({name, std::move(fn)}); }
};

inline int run_all() {
  int passed = 0, failed = 0;
  for (auto& c : cases()) {
    failures_in_case() = 0;
    c.fn();
    if (failures_in_case() == 0) {
      ++passed;
    } else {
      ++failed;
      std::printf("FAIL %s\n", c.name);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

namespace detail {
inline std::string& temp_root() {
  static std::string dir;
  return dir;
}
inline void remove_temp_root() {
  std::error_code ec;
  std::filesystem::remove_all(temp_root(), ec);
}
}  // namespace detail

/// A folder of this program's own under $TMPDIR (or /tmp), created on first
/// use and removed with everything in it when the program exits.
inline const std::string& temp_dir() {
  if (detail::temp_root().empty()) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/wk-native-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(2);
    }
    detail::temp_root() = tmpl;
    std::atexit(detail::remove_temp_root);
  }
  return detail::temp_root();
}

}  // namespace weightkit::testing

#define WK_CONCAT2(a, b) a##b
#define WK_CONCAT(a, b) WK_CONCAT2(a, b)
#define TEST_CASE(name)                                                                     \
  static void WK_CONCAT(wk_test_, __LINE__)();                                              \
  static ::weightkit::testing::Register WK_CONCAT(wk_reg_, __LINE__)(name, WK_CONCAT(wk_test_, __LINE__)); \
  static void WK_CONCAT(wk_test_, __LINE__)()
#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      ++::weightkit::testing::failures_in_case();                                    \
      std::printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);         \
    }                                                                                \
  } while (0)
#define CHECK_EQ(a, b)                                                                                     \
  do {                                                                                                     \
    auto wk_a = (a);                                                                                       \
    auto wk_b = (b);                                                                                       \
    if (!(wk_a == wk_b)) {                                                                                 \
      ++::weightkit::testing::failures_in_case();                                                          \
      std::printf("  %s:%d: CHECK_EQ(%s, %s) failed\n", __FILE__, __LINE__, #a, #b);                       \
    }                                                                                                      \
  } while (0)
#define WEIGHTKIT_TEST_MAIN() \
  int main() { return ::weightkit::testing::run_all(); }
