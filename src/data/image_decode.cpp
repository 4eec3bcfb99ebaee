// Decoding JPEG (libturbojpeg), PNG (libpng) and WebP (libwebp) bytes to 8-bit RGB, matching
// PIL's Image.open(...).convert("RGB") pixel for pixel (PIL 9.4 uses the same libjpeg-turbo,
// default islow DCT and fancy upsampling). The libraries decode; what is ours is the mapping of
// every colour type to RGB as PIL does it, the size limits and the error taxonomy the loader
// counts. libpng reports errors by longjmp, so its calls sit in a function with POD locals only.
#include <png.h>
#include <turbojpeg.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include <csetjmp>
#include <cstring>
#include <cstdio>
#include <memory>

#include "data/file_bytes.h"
#include "data/image.h"
#include "data/image_internal.h"

namespace vlm::data {
namespace {

bool starts_with(std::span<const uint8_t> bytes, const char* magic, size_t n) {
  return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
}

// ---------------------------------------------------------------- JPEG

// One decompressor per thread (creating one costs more than decoding a thumbnail). A handle
// that saw an error is replaced: libturbojpeg 2.1 leaves it in a state that fails later files.
struct TjHandle {
  tjhandle handle = nullptr;
  ~TjHandle() { reset(); }
  void reset() {
    if (handle != nullptr) tjDestroy(handle);
    handle = nullptr;
  }
};

TjHandle& thread_decompressor() {
  thread_local TjHandle tj;
  return tj;
}

tjhandle decompressor() {
  TjHandle& tj = thread_decompressor();
  if (tj.handle == nullptr) tj.handle = tjInitDecompress();
  if (tj.handle == nullptr) throw Error("libturbojpeg: cannot create a decompressor");
  return tj.handle;
}

[[noreturn]] void throw_jpeg_message(const std::string& message, const std::string& name) {
  const bool truncated = message.find("Premature end") != std::string::npos ||
                         message.find("Suspension") != std::string::npos;
  throw ImageError(truncated ? "truncated" : "corrupt", name, "JPEG: " + message);
}

[[noreturn]] void throw_jpeg_error(tjhandle handle, const std::string& name) {
  const std::string message = tjGetErrorStr2(handle);
  thread_decompressor().reset();
  throw_jpeg_message(message, name);
}

// libjpeg-turbo's memory source ends the data with a fake EOI, so a file cut before its frame
// header "parses" with a 0x0 size.
void check_jpeg_frame(int width, int height, const std::string& name) {
  if (width == 0 && height == 0) throw ImageError("truncated", name, "JPEG: data ends before the frame header");
  check_dimensions(width, height, name);
}

// PIL reads CMYK JPEGs with Adobe's inverted polarity ("CMYK;I") whatever the markers say,
// then converts with Convert.c's cmyk2rgb: nk = 255 - k; out = nk - round(c' * nk / 255).
void cmyk_to_rgb(const std::vector<uint8_t>& cmyk, Image& out) {
  const size_t n = static_cast<size_t>(out.width) * out.height;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* in = &cmyk[i * 4];
    const int nk = in[3];  // inverted k: 255 - (255 - k)
    for (int c = 0; c < 3; ++c) {
      const int ink = 255 - in[c];
      const int tmp = ink * nk + 128;
      const int v = nk - (((tmp >> 8) + tmp) >> 8);
      out.rgb[i * 3 + c] = static_cast<uint8_t>(v < 0 ? 0 : v);
    }
  }
}

Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& name, int min_side_hint, bool fast) {
  tjhandle tj = decompressor();
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, bytes.data(), static_cast<unsigned long>(bytes.size()), &width, &height, &subsamp,
                          &colorspace) != 0) {
    throw_jpeg_error(tj, name);
  }
  check_jpeg_frame(width, height, name);
  int out_w = width, out_h = height;
  if (min_side_hint > 0) {
    // The smallest of libjpeg-turbo's DCT scales (M/8, M = 1..8: the IDCT itself outputs fewer
    // pixels) that keeps both sides >= the hint: a 500x375 photo for 224 decodes at 5/8
    // (313x235), not at full size as with powers of two only.
    int n = 0;
    const tjscalingfactor* factors = tjGetScalingFactors(&n);
    for (int i = 0; factors != nullptr && i < n; ++i) {
      const tjscalingfactor f = factors[i];
      if (f.num > f.denom) continue;  // upscaling
      const int w = TJSCALED(width, f), h = TJSCALED(height, f);
      if (w >= min_side_hint && h >= min_side_hint && int64_t{w} * h < int64_t{out_w} * out_h) {
        out_w = w;
        out_h = h;
      }
    }
  }
  Image image(out_w, out_h);
  // LIMITSCANS refuses progressive files with absurd scan counts (a decoding-time bomb).
  const int flags = TJFLAG_LIMITSCANS | (fast ? TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE : 0);
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  std::vector<uint8_t> cmyk_buf;
  unsigned char* dst = image.rgb.data();
  int pixel_format = TJPF_RGB;
  if (cmyk) {
    cmyk_buf.resize(static_cast<size_t>(out_w) * out_h * 4);
    dst = cmyk_buf.data();
    pixel_format = TJPF_CMYK;
  }
  if (tjDecompress2(tj, bytes.data(), static_cast<unsigned long>(bytes.size()), dst, out_w, 0, out_h, pixel_format,
                    flags) != 0) {
    // Warnings (e.g. extraneous bytes between markers) still leave a full image, as in PIL;
    // a premature end does not: PIL raises "image file is truncated" there too.
    const std::string message = tjGetErrorStr2(tj);
    const bool warning_only = tjGetErrorCode(tj) == TJERR_WARNING;
    thread_decompressor().reset();  // warnings too: a fresh handle costs little, a stale one a file
    if (!warning_only || message.find("Premature end") != std::string::npos) throw_jpeg_message(message, name);
  }
  if (cmyk) cmyk_to_rgb(cmyk_buf, image);
  return image;
}

// ---------------------------------------------------------------- PNG

struct PngReader {
  std::span<const uint8_t> bytes;
  size_t offset = 0;
  bool ran_out = false;
  char message[256] = {};
  std::jmp_buf jump;
};

void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* reader = static_cast<PngReader*>(png_get_io_ptr(png));
  if (reader->offset + n > reader->bytes.size()) {
    reader->ran_out = true;
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, reader->bytes.data() + reader->offset, n);
  reader->offset += n;
}

void png_on_error(png_structp png, png_const_charp message) {
  auto* reader = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(reader->message, sizeof(reader->message), "%s", message);
  std::longjmp(reader->jump, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // PIL ignores ancillary-chunk warnings too

// Fills `image` (already sized from the IHDR) or returns false with reader->message set.
// Only POD locals: png_error longjmps out of here.
bool read_png_pixels(PngReader* reader, Image* image, std::vector<png_bytep>* rows) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, reader, png_on_error, png_on_warning);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return false;
  }
  if (setjmp(reader->jump) != 0) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, reader, png_read_bytes);
  png_set_user_limits(png, kMaxImageSide, kMaxImageSide);
  png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_DEFAULT);
  png_read_info(png, info);
  // Every colour type to 8-bit RGB: palette -> RGB, gray 1/2/4 -> 8 bits (x255, x85, x17 as
  // PIL's "1", "L;2", "L;4"), 16 -> high byte (PIL's "RGB;16B"), alpha and tRNS dropped.
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 3 || png_get_rowbytes(png, info) != static_cast<size_t>(image->width) * 3) {
    std::snprintf(reader->message, sizeof(reader->message), "unexpected layout after conversion to RGB");
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_read_image(png, rows->data());
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

Image decode_png(std::span<const uint8_t> bytes, const std::string& name) {
  const ImageInfo info = probe_image(bytes, name);  // size checks before any allocation
  Image image(info.width, info.height);
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) rows[static_cast<size_t>(y)] = image.pixel(0, y);
  PngReader reader;
  reader.bytes = bytes;
  if (!read_png_pixels(&reader, &image, &rows)) {
    throw ImageError(reader.ran_out ? "truncated" : "corrupt", name, str("PNG: ", reader.message));
  }
  return image;
}

// ---------------------------------------------------------------- WebP

Image decode_webp(std::span<const uint8_t> bytes, const std::string& name) {
  WebPBitstreamFeatures features;
  const VP8StatusCode status = WebPGetFeatures(bytes.data(), bytes.size(), &features);
  if (status == VP8_STATUS_NOT_ENOUGH_DATA) throw ImageError("truncated", name, "WebP: not enough data");
  if (status == VP8_STATUS_UNSUPPORTED_FEATURE) throw ImageError("unsupported_format", name, "WebP: unsupported");
  if (status != VP8_STATUS_OK) throw ImageError("corrupt", name, str("WebP: bitstream error (status ", status, ")"));
  check_dimensions(features.width, features.height, name);
  Image image(features.width, features.height);
  if (features.has_animation) {  // the first frame, as PIL shows an animated WebP
    WebPData data{bytes.data(), bytes.size()};
    WebPAnimDecoderOptions options;
    WebPAnimDecoderOptionsInit(&options);
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> decoder(WebPAnimDecoderNew(&data, &options),
                                                                        WebPAnimDecoderDelete);
    uint8_t* frame = nullptr;
    int timestamp = 0;
    if (!decoder || !WebPAnimDecoderGetNext(decoder.get(), &frame, &timestamp)) {
      throw ImageError("corrupt", name, "WebP: cannot decode the first animation frame");
    }
    const size_t n = static_cast<size_t>(image.width) * image.height;
    for (size_t i = 0; i < n; ++i) std::memcpy(&image.rgb[i * 3], frame + i * 4, 3);
    return image;
  }
  const int stride = image.width * 3;
  if (WebPDecodeRGBInto(bytes.data(), bytes.size(), image.rgb.data(), image.rgb.size(), stride) == nullptr) {
    // Features parsed, pixels did not: a cut-off stream or damaged data.
    WebPDecoderConfig config;
    WebPInitDecoderConfig(&config);
    config.output.colorspace = MODE_RGB;
    const VP8StatusCode again = WebPDecode(bytes.data(), bytes.size(), &config);
    WebPFreeDecBuffer(&config.output);
    throw ImageError(again == VP8_STATUS_NOT_ENOUGH_DATA ? "truncated" : "corrupt", name,
                     str("WebP: cannot decode (status ", again, ")"));
  }
  return image;
}

}  // namespace

void check_dimensions(int64_t width, int64_t height, const std::string& name) {
  if (width <= 0 || height <= 0) throw ImageError("corrupt", name, str("invalid size ", width, "x", height));
  if (width > kMaxImageSide || height > kMaxImageSide) {
    throw ImageError("too_large", name,
                     str("declared size ", width, "x", height, ": a side above the limit of ", kMaxImageSide, " pixels"));
  }
  if (width * height > kMaxImagePixels) {
    throw ImageError("too_large", name,
                     str("declared size ", width, "x", height, " is ", width * height, " pixels, above the limit of ",
                         kMaxImagePixels));
  }
}

ImageFormat sniff_format(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.empty()) throw ImageError("empty", name, "empty file");
  struct Magic {
    const char* bytes;
    size_t n;
    ImageFormat format;
  };
  static const Magic kMagics[] = {{"\xFF\xD8\xFF", 3, ImageFormat::kJpeg},
                                  {"\x89PNG\r\n\x1A\n", 8, ImageFormat::kPng},
                                  {"RIFF", 4, ImageFormat::kWebp}};
  for (const Magic& magic : kMagics) {
    if (starts_with(bytes, magic.bytes, magic.n)) {
      if (magic.format == ImageFormat::kWebp) {
        if (bytes.size() < 12) throw ImageError("truncated", name, "RIFF header cut off");
        if (std::memcmp(bytes.data() + 8, "WEBP", 4) != 0) {
          throw ImageError("unsupported_format", name, "a RIFF file that is not WebP");
        }
      }
      return magic.format;
    }
    if (bytes.size() < magic.n && std::memcmp(bytes.data(), magic.bytes, bytes.size()) == 0) {
      throw ImageError("truncated", name, "file ends inside the format signature");
    }
  }
  if (starts_with(bytes, "GIF8", 4) || starts_with(bytes, "BM", 2) || starts_with(bytes, "II*\0", 4) ||
      starts_with(bytes, "MM\0*", 4) || (bytes.size() >= 12 && std::memcmp(bytes.data() + 4, "ftyp", 4) == 0)) {
    throw ImageError("unsupported_format", name, "GIF, BMP, TIFF, HEIF and AVIF are not supported (JPEG, PNG, WebP)");
  }
  throw ImageError("unsupported_format", name, "not a JPEG, PNG or WebP file");
}

ImageInfo probe_image(std::span<const uint8_t> bytes, const std::string& name) {
  ImageInfo info;
  switch (sniff_format(bytes, name)) {
    case ImageFormat::kJpeg: {
      int subsamp = 0, colorspace = 0;
      tjhandle tj = decompressor();
      if (tjDecompressHeader3(tj, bytes.data(), static_cast<unsigned long>(bytes.size()), &info.width, &info.height,
                              &subsamp, &colorspace) != 0) {
        throw_jpeg_error(tj, name);
      }
      check_jpeg_frame(info.width, info.height, name);
      info.format = "jpeg";
      break;
    }
    case ImageFormat::kPng: {
      // Signature (8), IHDR length (4) and type (4), then width and height big-endian.
      if (bytes.size() < 33) throw ImageError("truncated", name, "PNG: file ends inside the IHDR chunk");
      if (std::memcmp(bytes.data() + 12, "IHDR", 4) != 0) throw ImageError("corrupt", name, "PNG: no IHDR chunk");
      auto be32 = [&](size_t at) {
        return (uint32_t{bytes[at]} << 24) | (uint32_t{bytes[at + 1]} << 16) | (uint32_t{bytes[at + 2]} << 8) |
               uint32_t{bytes[at + 3]};
      };
      const int64_t width = be32(16), height = be32(20);
      check_dimensions(width, height, name);
      info.width = static_cast<int>(width);
      info.height = static_cast<int>(height);
      info.format = "png";
      break;
    }
    case ImageFormat::kWebp: {
      WebPBitstreamFeatures features;
      const VP8StatusCode status = WebPGetFeatures(bytes.data(), bytes.size(), &features);
      if (status == VP8_STATUS_NOT_ENOUGH_DATA) throw ImageError("truncated", name, "WebP: not enough data");
      if (status != VP8_STATUS_OK) throw ImageError("corrupt", name, "WebP: bitstream error");
      info.width = features.width;
      info.height = features.height;
      info.format = "webp";
      break;
    }
  }
  check_dimensions(info.width, info.height, name);
  return info;
}

Image decode_image(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options) {
  Image image;
  switch (sniff_format(bytes, name)) {
    case ImageFormat::kJpeg:
      image = decode_jpeg(bytes, name, options.min_side_hint, options.fast_jpeg);
      break;
    case ImageFormat::kPng:
      image = decode_png(bytes, name);
      break;
    case ImageFormat::kWebp:
      image = decode_webp(bytes, name);
      break;
  }
  if (options.apply_exif) {
    const int orientation = exif_orientation(bytes);
    if (orientation != 1) image = apply_orientation(image, orientation);
  }
  return image;
}

Image decode_image(std::span<const uint8_t> bytes, const std::string& name, int min_side_hint) {
  DecodeOptions options;
  options.min_side_hint = min_side_hint;
  return decode_image(bytes, name, options);
}

std::vector<uint8_t> read_binary_file(const std::string& path) { return read_regular_file(path); }

Image decode_image_file(const std::string& path, const DecodeOptions& options) {
  const std::vector<uint8_t> bytes = read_regular_file(path);  // bounded; special files refused
  return decode_image(bytes, path, options);
}

}  // namespace vlm::data
