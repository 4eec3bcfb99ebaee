// Leveled logging to stderr and, once a run directory exists, to its log file.
// Plain lines with a timestamp: they are read by people and grepped by scripts.
#pragma once

#include <string>

#include "core/error.h"

namespace vlm::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level);
Level level();
// Mirror every line into this file as well (appends); empty path stops mirroring.
void set_file(const std::string& path);
void write(Level level, const std::string& line);

template <typename... Args>
void debug(const Args&... args) {
  if (level() <= Level::kDebug) write(Level::kDebug, str(args...));
}
template <typename... Args>
void info(const Args&... args) {
  if (level() <= Level::kInfo) write(Level::kInfo, str(args...));
}
template <typename... Args>
void warn(const Args&... args) {
  if (level() <= Level::kWarn) write(Level::kWarn, str(args...));
}
template <typename... Args>
void error(const Args&... args) {
  write(Level::kError, str(args...));
}

}  // namespace vlm::log
