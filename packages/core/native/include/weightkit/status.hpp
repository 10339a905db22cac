// weightkit/status.hpp — the error currency of every weightkit native core.
//
// Cores never throw across their public surface and never know about Node-API:
// they return a Status (or a Result<T>) whose code is one of the stable
// WeightkitError codes documented in docs/index.md. The Node-API layers turn a
// failed Status into a JavaScript WeightkitError with the same code.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace weightkit {

enum class Code {
  kOk = 0,
  kIo,           // WK_IO: the operating system refused a read, write, open or map
  kBadFormat,    // WK_BAD_FORMAT: the bytes are not the format they claim to be
  kBadArgument,  // WK_BAD_ARGUMENT: the caller passed something invalid
  kUnsupported,  // WK_UNSUPPORTED: valid, but not something weightkit handles
  kBudget,       // WK_BUDGET: a memory budget is too small for the request
  kLocked,       // WK_LOCKED: another process holds the file
  kCorrupt,      // WK_CORRUPT: a format we own failed an integrity check
  kNotFound,     // WK_NOT_FOUND: no such file, tensor or entry
  kClosed,       // WK_CLOSED: the object was closed before use
  kNoSpace,      // WK_NO_SPACE: the filesystem is full
  kDevice,       // WK_DEVICE: the (possibly emulated) accelerator failed
  kBusy,         // WK_BUSY: the object is running a long operation; the call would have to wait
};

/// The stable string form of a code, as JavaScript sees it in `error.code`.
inline const char* code_name(Code c) {
  switch (c) {
    case Code::kOk: return "WK_OK";
    case Code::kIo: return "WK_IO";
    case Code::kBadFormat: return "WK_BAD_FORMAT";
    case Code::kBadArgument: return "WK_BAD_ARGUMENT";
    case Code::kUnsupported: return "WK_UNSUPPORTED";
    case Code::kBudget: return "WK_BUDGET";
    case Code::kLocked: return "WK_LOCKED";
    case Code::kCorrupt: return "WK_CORRUPT";
    case Code::kNotFound: return "WK_NOT_FOUND";
    case Code::kClosed: return "WK_CLOSED";
    case Code::kNoSpace: return "WK_NO_SPACE";
    case Code::kDevice: return "WK_DEVICE";
    case Code::kBusy: return "WK_BUSY";
  }
  return "WK_IO";
}

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

/// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: implicit by design

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return is_ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& value() const& { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace weightkit
