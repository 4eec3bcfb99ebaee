// Bounded reads of regular files with POSIX open/fstat/pread (see file_bytes.h): fstat on the
// opened descriptor tells a directory, device or FIFO apart before any read, which the
// iostream and stdio readers used before could not (a directory "opened" with a huge size).
#include "data/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace vlm::data {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string mib(int64_t bytes) { return str(bytes / (1 << 20), " MiB"); }

// An open descriptor of a regular file and its size.
class RegularFile {
 public:
  explicit RegularFile(const std::string& path) : path_(path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw FileError(path, errno == ENOENT ? "no such file" : std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw FileError(path, kind_of(st.st_mode) + ", not an image file");
    // O_NONBLOCK: should a FIFO replace the file between stat and open, open returns at once.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) throw FileError(path, str("cannot open: ", std::strerror(errno)));
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw FileError(path, kind_of(st.st_mode) + ", not an image file");
    }
    size_ = static_cast<int64_t>(st.st_size);
  }
  ~RegularFile() { ::close(fd_); }
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  int64_t size() const { return size_; }

  std::vector<uint8_t> read(int64_t offset, int64_t size) const {
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    int64_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd_, bytes.data() + done, static_cast<size_t>(size - done), offset + done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw FileError(path_, str("read error at byte ", offset + done, ": ", std::strerror(errno)));
      if (n == 0) throw FileError(path_, str("ends at byte ", offset + done, ", ", offset + size, " expected"));
      done += n;
    }
    return bytes;
  }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

}  // namespace

std::vector<uint8_t> read_regular_file(const std::string& path, int64_t max_bytes) {
  const RegularFile file(path);
  if (file.size() > max_bytes)
    throw FileError(path, str("is ", mib(file.size()), ", above the ", mib(max_bytes), " limit for an image file"));
  return file.read(0, file.size());
}

std::vector<uint8_t> read_file_range(const std::string& path, int64_t offset, int64_t size, int64_t max_bytes) {
  if (offset < 0 || size < 0) throw FileError(path, str("invalid byte range ", offset, "+", size));
  if (size > max_bytes) throw FileError(path, str("member of ", mib(size), " is above the ", mib(max_bytes), " limit"));
  const RegularFile file(path);
  if (offset > file.size() || size > file.size() - offset)
    throw FileError(path, str("bytes ", offset, "..", offset + size, " reach past the end of the file (",
                              file.size(), " bytes)"));
  return file.read(offset, size);
}

}  // namespace vlm::data
