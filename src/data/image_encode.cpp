// Encoding RGB buffers to PNG (libpng, into memory) and JPEG (libturbojpeg, 4:2:0), and writing
// them atomically. Used for the synthetic dataset, the report's pictures and the benchmark.
// libpng reports errors by longjmp, so its calls sit in a function with POD locals only.
#include <png.h>
#include <turbojpeg.h>

#include <csetjmp>
#include <cstring>
#include <memory>

#include "data/image.h"
#include "io/atomic_file.h"

namespace vlm::data {
namespace {

void check_image(const Image& image, const char* what) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error(str(what, ": image is empty or its buffer does not match ", image.width, "x", image.height, "x3"));
  }
}

struct PngWriter {
  std::vector<uint8_t>* out = nullptr;
  char message[256] = {};
  std::jmp_buf jump;
};

void png_write_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* writer = static_cast<PngWriter*>(png_get_io_ptr(png));
  writer->out->insert(writer->out->end(), data, data + n);
}

void png_flush(png_structp) {}

void png_on_error(png_structp png, png_const_charp message) {
  auto* writer = static_cast<PngWriter*>(png_get_error_ptr(png));
  std::snprintf(writer->message, sizeof(writer->message), "%s", message);
  std::longjmp(writer->jump, 1);
}

bool write_png_rows(PngWriter* writer, const Image* image, std::vector<png_bytep>* rows) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, writer, png_on_error, nullptr);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(writer->jump) != 0) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, writer, png_write_bytes, png_flush);
  png_set_compression_level(png, 6);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image->width), static_cast<png_uint_32>(image->height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows->data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  io::write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& image) {
  check_image(image, "encode_png");
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) rows[static_cast<size_t>(y)] = const_cast<uint8_t*>(image.pixel(0, y));
  std::vector<uint8_t> out;
  out.reserve(image.rgb.size() / 2 + 1024);
  PngWriter writer;
  writer.out = &out;
  if (!write_png_rows(&writer, &image, &rows)) throw Error(str("PNG encoding failed: ", writer.message));
  return out;
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  check_image(image, "encode_jpeg");
  if (quality < 1 || quality > 100) throw Error(str("JPEG quality must be 1..100, got ", quality));
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitCompress(), tjDestroy);
  if (!tj) throw Error("libturbojpeg: cannot create a compressor");
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (tjCompress2(tj.get(), image.rgb.data(), image.width, 0, image.height, TJPF_RGB, &buffer, &size, TJSAMP_420,
                  quality, 0) != 0) {
    const std::string message = tjGetErrorStr2(tj.get());
    tjFree(buffer);
    throw Error("JPEG encoding failed: " + message);
  }
  std::vector<uint8_t> out(buffer, buffer + size);
  tjFree(buffer);
  return out;
}

void write_png(const std::string& path, const Image& image) { write_bytes(path, encode_png(image)); }

void write_jpeg(const std::string& path, const Image& image, int quality) {
  write_bytes(path, encode_jpeg(image, quality));
}

}  // namespace vlm::data
