#include "server/edge/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/file_util.h"

namespace lmeye {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::Status Problem(absl::string_view field, const std::string& path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", path, ": ", why));
}

// OpenSSL's reasons for the failure on this thread, oldest first ("bad base64 decode;
// unsupported": OpenSSL 3's key decoders add a vague one on top), and a clean queue.
std::string OpenSslReason() {
  std::vector<std::string> reasons;
  while (const unsigned long error = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(error);
    if (reason != nullptr && std::find(reasons.begin(), reasons.end(), reason) == reasons.end()) {
      reasons.push_back(reason);
    }
  }
  return reasons.empty() ? "unknown error" : absl::StrJoin(reasons, "; ");
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The certificates of a PEM bundle, in order; a problem names the option and the file.
absl::StatusOr<std::vector<Certificate>> ReadCertificates(const std::string& pem,
                                                          absl::string_view field,
                                                          const std::string& path) {
  ERR_clear_error();
  Bio bio = MemoryBio(pem);
  std::vector<Certificate> certificates;
  while (X509* x509 = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(x509);
  }
  // The loop ends at the end of the text (PEM's "no start line") or at a block it cannot read.
  const unsigned long error = ERR_peek_last_error();
  const bool at_end = error == 0 || (ERR_GET_LIB(error) == ERR_LIB_PEM &&
                                     ERR_GET_REASON(error) == PEM_R_NO_START_LINE);
  if (!at_end) {
    return Problem(field, path,
                   absl::StrCat("certificate ", certificates.size() + 1,
                                " is not a valid PEM certificate (", OpenSslReason(), ")"));
  }
  ERR_clear_error();
  if (certificates.empty()) {
    return Problem(field, path, "no PEM certificate in it (-----BEGIN CERTIFICATE-----)");
  }
  return certificates;
}

// Never prompts on the terminal for an encrypted key's passphrase: such a key fails to load.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

absl::StatusOr<std::string> Read(absl::string_view field, const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", text.status().message()));
  }
  return text;
}

}  // namespace

absl::StatusOr<TlsFiles> LoadTlsFiles(const GrpcServerOptions& options) {
  TlsFiles files;
  absl::StatusOr<std::string> text = Read("tls_cert_file", options.tls_cert_file);
  if (!text.ok()) return text.status();
  files.cert_chain = *std::move(text);
  absl::StatusOr<std::vector<Certificate>> chain =
      ReadCertificates(files.cert_chain, "tls_cert_file", options.tls_cert_file);
  if (!chain.ok()) return chain.status();

  text = Read("tls_key_file", options.tls_key_file);
  if (!text.ok()) return text.status();
  files.private_key = *std::move(text);
  ERR_clear_error();
  Bio bio = MemoryBio(files.private_key);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    const std::string reason = OpenSslReason();
    if (absl::StrContains(files.private_key, "ENCRYPTED")) {
      return Problem("tls_key_file", options.tls_key_file,
                     "the key is encrypted; the server needs it unencrypted");
    }
    if (!absl::StrContains(files.private_key, "PRIVATE KEY-----")) {
      return Problem("tls_key_file", options.tls_key_file,
                     "no PEM private key in it (-----BEGIN PRIVATE KEY-----)");
    }
    return Problem("tls_key_file", options.tls_key_file,
                   absl::StrCat("not a valid PEM private key (", reason, ")"));
  }
  if (X509_check_private_key(chain->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return Problem("tls_key_file", options.tls_key_file,
                   absl::StrCat("does not match the certificate in tls_cert_file (",
                                options.tls_cert_file, ")"));
  }

  if (!options.tls_client_ca_file.empty()) {
    text = Read("tls_client_ca_file", options.tls_client_ca_file);
    if (!text.ok()) return text.status();
    files.client_ca = *std::move(text);
    absl::StatusOr<std::vector<Certificate>> cas =
        ReadCertificates(files.client_ca, "tls_client_ca_file", options.tls_client_ca_file);
    if (!cas.ok()) return cas.status();
  }
  return files;
}

}  // namespace lmeye
