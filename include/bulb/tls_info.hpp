// SPDX-License-Identifier: MIT
/// @file
/// What a TLS connection negotiated, as typed values: the protocol version, the cipher and the
/// peer's certificate. asyncio hands out an ssl.SSLObject (get_extra_info("ssl_object")) whose
/// version(), cipher() and getpeercert() give these; bulb exposes no OpenSSL object, so the same
/// facts come as plain structs through Transport::get_extra_info<T>() (<bulb/extra_info.hpp>).
#pragma once

#include <bulb/config.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bulb {

/// A TLS protocol version (ssl.TLSVersion); the values are the wire codes. bulb speaks 1.2 and 1.3
/// only: older versions are refused at every security level bulb allows.
enum class TlsVersion : std::uint16_t {
    tls1_2 = 0x0303,  ///< TLS 1.2 (RFC 5246)
    tls1_3 = 0x0304,  ///< TLS 1.3 (RFC 8446)
};

/// "TLSv1.2" / "TLSv1.3", as ssl.SSLObject.version() spells them.
BULB_API const char* to_string(TlsVersion version) noexcept;

/// The negotiated cipher, as ssl.SSLObject.cipher()'s (name, protocol, secret_bits) tuple.
struct TlsCipher {
    /// OpenSSL's name, e.g. "TLS_AES_256_GCM_SHA384" or "ECDHE-ECDSA-AES128-GCM-SHA256".
    std::string name{};
    /// The protocol version that defined it, e.g. "TLSv1.3".
    std::string protocol{};
    /// The strength of the symmetric cipher in bits.
    int secret_bits = 0;
};

/// The peer's leaf certificate, as ssl.SSLObject.getpeercert() (the dict) plus
/// getpeercert(binary_form=True) (the DER bytes) in one value. A copy: it stays valid after the
/// connection ends.
struct TlsPeerCertificate {
    /// The subject as an RFC 2253 string, e.g. "CN=localhost,O=Example" (Python: a tuple of RDNs).
    std::string subject{};
    /// The issuer, spelled as subject.
    std::string issuer{};
    /// subjectAltName entries in certificate order as (type, value): ("DNS", "localhost"),
    /// ("IP Address", "127.0.0.1"), ("email", ...), ("URI", ...) -- Python's spelling.
    std::vector<std::pair<std::string, std::string>> subject_alt_names{};
    /// The serial number in upper-case hex (Python's serialNumber).
    std::string serial_number{};
    /// notBefore (Python gives it as text; here a time point, UTC).
    std::chrono::system_clock::time_point not_before{};
    /// notAfter, as not_before.
    std::chrono::system_clock::time_point not_after{};
    /// The whole certificate, DER-encoded (getpeercert(binary_form=True)).
    std::vector<std::byte> der{};
};

}  // namespace bulb
