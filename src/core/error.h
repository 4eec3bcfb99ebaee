// Error types carrying the context a user needs: the file, the key, and a hint.
// Thrown at file and config boundaries; the CLI catches them at the top, prints one
// line and exits 1 (2 for usage errors). Inside tensor math use TORCH_CHECK instead.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace vlm {

// Concatenates anything streamable: str("expected ", n, " got ", m).
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string hint = {})
      : std::runtime_error(message), hint_(std::move(hint)) {}
  const std::string& hint() const { return hint_; }

 private:
  std::string hint_;
};

// A problem with a file: "PATH: what is wrong".
class FileError : public Error {
 public:
  FileError(std::string path, const std::string& what, std::string hint = {})
      : Error(path + ": " + what, std::move(hint)), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A problem with a configuration key: "config key 'train.lr': what is wrong".
class ConfigError : public Error {
 public:
  ConfigError(std::string key, const std::string& what, std::string hint = {})
      : Error("config key '" + key + "': " + what, std::move(hint)), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// Wrong command-line usage; the CLI exits with status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace vlm
