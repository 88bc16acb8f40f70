// See image_codec_messages.h for why these C symbols are defined here.
#include "model/vision/image_codec_messages.h"

#include <dlfcn.h>

#include <csetjmp>
#include <cstdio>

#include <jpeglib.h>
#include <png.h>

namespace lmeye::image_internal {
namespace {

using JpegStdErrorFn = jpeg_error_mgr* (*)(jpeg_error_mgr*);
using PngCreateReadStructFn = png_structp (*)(png_const_charp, png_voidp, png_error_ptr,
                                              png_error_ptr);
using PngLongjmpFn = void (*)(png_const_structrp, int);

template <typename Fn>
Fn Next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

JpegStdErrorFn RealJpegStdError() {
  static const JpegStdErrorFn fn = Next<JpegStdErrorFn>("jpeg_std_error");
  return fn;
}

PngCreateReadStructFn RealPngCreateReadStruct() {
  static const PngCreateReadStructFn fn = Next<PngCreateReadStructFn>("png_create_read_struct");
  return fn;
}

PngLongjmpFn RealPngLongjmp() {
  static const PngLongjmpFn fn = reinterpret_cast<PngLongjmpFn>(dlsym(RTLD_DEFAULT, "png_longjmp"));
  return fn;
}

// libjpeg routes every warning and trace line through output_message (emit_message decides
// which); error_exit, which OpenCV replaces with its own longjmp, never prints either then.
void SilentJpegOutputMessage(j_common_ptr) {}

void SilentPngWarning(png_structp, png_const_charp) {}

// libpng requires an error handler not to return: if it does, png_default_error prints the
// message and jumps itself. So jump to the caller's setjmp (OpenCV's) without printing.
void SilentPngError(png_structp png, png_const_charp) {
  if (PngLongjmpFn jump = RealPngLongjmp(); jump != nullptr) jump(png, 1);
  // png_longjmp not found (cannot happen with libpng 1.6): let libpng print and jump.
}

}  // namespace

bool CodecMessagesSilenced() {
  // RTLD_DEFAULT is the lookup OpenCV's calls go through: it must find our definitions.
  return RealJpegStdError() != nullptr && RealPngCreateReadStruct() != nullptr &&
         RealPngLongjmp() != nullptr &&
         dlsym(RTLD_DEFAULT, "jpeg_std_error") == reinterpret_cast<void*>(&jpeg_std_error) &&
         dlsym(RTLD_DEFAULT, "png_create_read_struct") ==
             reinterpret_cast<void*>(&png_create_read_struct);
}

}  // namespace lmeye::image_internal

extern "C" {

// NOLINTNEXTLINE(readability-identifier-naming): the C API name is the point.
jpeg_error_mgr* jpeg_std_error(jpeg_error_mgr* err) {
  using lmeye::image_internal::RealJpegStdError;
  const auto real = RealJpegStdError();
  if (real == nullptr) return err;  // unreachable when libjpeg is loaded; OpenCV loads it
  real(err);
  err->output_message = &lmeye::image_internal::SilentJpegOutputMessage;
  return err;
}

png_structp png_create_read_struct(png_const_charp user_png_ver, png_voidp error_ptr,
                                   png_error_ptr error_fn, png_error_ptr warn_fn) {
  using lmeye::image_internal::RealPngCreateReadStruct;
  const auto real = RealPngCreateReadStruct();
  if (real == nullptr) return nullptr;  // libpng not loaded: nothing could call us usefully
  return real(user_png_ver, error_ptr,
              error_fn != nullptr ? error_fn : &lmeye::image_internal::SilentPngError,
              warn_fn != nullptr ? warn_fn : &lmeye::image_internal::SilentPngWarning);
}

}  // extern "C"
