// Keeps libjpeg and libpng from printing to stderr (internal to model/vision/image_*).
//
// OpenCV's JPEG and PNG glue leaves libjpeg's message output and libpng's warning/error output
// at their defaults, which write to stderr ("Corrupt JPEG data: premature end of data segment",
// "libpng error: IDAT: invalid distance too far back"). ProbeImage refuses every broken container
// before decoding, but damage inside the compressed data of a well-formed file can only be found
// by decoding it, and a server must not print on behalf of its clients.
//
// How, without linking libjpeg/libpng ourselves (model/ links them only through OpenCV):
// image_codec_messages.cc defines jpeg_std_error and png_create_read_struct. The executable's
// definitions take precedence over the shared libraries' for the calls OpenCV makes (ordinary
// ELF symbol interposition, as malloc replacements work); each forwards to the real function
// (dlsym RTLD_NEXT) and then installs silent message handlers. Only handlers the caller left at
// the default are replaced, so code that installs its own keeps them. Decoding behaviour is
// unchanged: libjpeg still recovers from corrupt data exactly as in PIL, libpng errors still
// abort the decode (now through png_longjmp without printing).
#pragma once

namespace lmeye::image_internal {

// True when both interposers are in effect (the real functions were found and our definitions
// are the ones the process uses). DecodeImage calls it, which also keeps the interposers linked
// into every binary that decodes images.
bool CodecMessagesSilenced();

}  // namespace lmeye::image_internal
