// SPDX-License-Identifier: MIT
/// @file
/// The only file that calls OpenSSL: contexts, the engine (SSL over a BIO that reads and writes
/// memory), error messages and certificate details.
#include "tls/tls_engine.hpp"

#include <bulb/error.hpp>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace bulb {
namespace {

/// Deleter calling OpenSSL's own free function, so that every object has one owner.
template <auto Free>
struct OpenSslFree {
    template <class T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, OpenSslFree<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpenSslFree<SSL_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, OpenSslFree<SSL_SESSION_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;

/// A client context's sessions, keyed by "host:port" (TlsClientOptions::session_cache). Shared by
/// every loop that uses the context: one mutex, held only to move a pointer in or out.
class SessionCache {
public:
    explicit SessionCache(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

    /// Keeps `session` (owned from now on) for `key`. TLS 1.3 servers send several tickets, each
    /// for one use: up to four are kept per key. A TLS 1.2 session replaces the one before.
    void put(const std::string& key, SSL_SESSION* session) {
        SslSessionPtr owned(session);
        const std::lock_guard lock(mutex_);
        Entry& e = entries_[key];
        if (SSL_SESSION_get_protocol_version(session) < TLS1_3_VERSION) e.sessions.clear();
        if (e.sessions.size() >= 4) e.sessions.erase(e.sessions.begin());
        e.sessions.push_back(std::move(owned));
        e.stored = ++clock_;
        if (entries_.size() > capacity_) {
            auto oldest = entries_.begin();
            for (auto it = entries_.begin(); it != entries_.end(); ++it)
                if (it->second.stored < oldest->second.stored) oldest = it;
            entries_.erase(oldest);
        }
    }

    /// A session to resume for `key`, or null. A TLS 1.3 ticket leaves the cache (RFC 8446 C.4:
    /// a ticket used twice lets an observer link the connections); a TLS 1.2 session stays.
    SslSessionPtr take(const std::string& key) {
        const std::lock_guard lock(mutex_);
        auto it = entries_.find(key);
        if (it == entries_.end()) return nullptr;
        std::vector<SslSessionPtr>& sessions = it->second.sessions;
        while (!sessions.empty()) {
            SSL_SESSION* newest = sessions.back().get();
            if (SSL_SESSION_is_resumable(newest) != 1) {
                sessions.pop_back();
                continue;
            }
            SslSessionPtr out;
            if (SSL_SESSION_get_protocol_version(newest) >= TLS1_3_VERSION) {
                out = std::move(sessions.back());
                sessions.pop_back();
            } else {
                SSL_SESSION_up_ref(newest);
                out.reset(newest);
            }
            if (sessions.empty()) entries_.erase(it);
            return out;
        }
        entries_.erase(it);
        return nullptr;
    }

    std::size_t count() const {
        const std::lock_guard lock(mutex_);
        return entries_.size();
    }

private:
    struct Entry {
        std::vector<SslSessionPtr> sessions;
        std::uint64_t stored = 0;  // clock_ when last stored (eviction order)
    };
    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;
    std::uint64_t clock_ = 0;
    const std::size_t capacity_;
};

}  // namespace

struct TlsContext::Impl {
    SslCtxPtr ctx;
    bool server = false;
    bool requires_hostname = false;  // a client that verifies the peer and its host name
    std::vector<unsigned char> alpn_wire;  // length-prefixed protocol list
    std::map<std::string, SslCtxPtr> sni;  // per-name contexts (servers)
    std::unique_ptr<SessionCache> sessions;  // clients with TlsClientOptions::session_cache
};

namespace {

// Verification failures are reported as verify_base + X509_V_ERR_*; the rest are OpenSSL
// packed error codes (ERR_get_error).
constexpr int verify_base = 0x40000000;

class TlsCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "tls"; }
    std::string message(int ev) const override {
        if (ev >= verify_base) return std::string("certificate verify failed: ") + X509_verify_cert_error_string(ev - verify_base);
        char buf[256];
        ERR_error_string_n(static_cast<unsigned long>(ev), buf, sizeof buf);
        return buf;
    }
};

/// The most recent OpenSSL error as an error_code (and clears the queue).
std::error_code take_ssl_error() {
    unsigned long last = 0;
    while (unsigned long e = ERR_get_error()) last = e;
    return {static_cast<int>(last ? last : ERR_PACK(ERR_LIB_SSL, 0, ERR_R_INTERNAL_ERROR)), tls_category()};
}

[[noreturn]] void throw_ssl(const std::string& what) {
    auto ec = take_ssl_error();
    throw Error(ec, what);  // system_error appends ec.message()
}

// OpenSSL reports a missing or unreadable file as "system lib": say which file and why.
void require_readable(const std::string& path, const char* what) {
    if (path.empty() || ::access(path.c_str(), R_OK) == 0) return;
    int e = errno;
    throw Error(std::error_code(e, std::system_category()), std::string("cannot read ") + what + " '" + path + "'");
}

std::vector<unsigned char> alpn_wire(const std::vector<std::string>& protocols) {
    std::vector<unsigned char> wire;
    for (auto& p : protocols) {
        if (p.empty() || p.size() > 255) throw std::invalid_argument("ALPN protocol names must be 1..255 bytes");
        wire.push_back(static_cast<unsigned char>(p.size()));
        wire.insert(wire.end(), p.begin(), p.end());
    }
    return wire;
}

SslCtxPtr new_ctx(bool server, const std::string& ciphers) {
    SslCtxPtr owned(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
    if (!owned) throw_ssl("SSL_CTX_new");
    SSL_CTX* ctx = owned.get();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // No downgrade by default: TLS 1.2+, no renegotiation either way, no compression (CRIME), at
    // least security level 2 whatever the system configuration says (a user's cipher list may
    // lower it explicitly with @SECLEVEL), and TLS 1.2 suites with forward secrecy and AEAD only:
    // OpenSSL's DEFAULT list still accepts static RSA and CBC with HMAC-SHA1.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_get_security_level(ctx) < 2) SSL_CTX_set_security_level(ctx, 2);
    const std::string& list = ciphers.empty() ? std::string(default_tls12_ciphers) : ciphers;
    if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
        ERR_clear_error();
        throw std::invalid_argument("no usable TLS 1.2 cipher suite in the cipher list '" + list + "'");
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    return owned;
}

/// What the PEM password callback is given (TlsPasswordCallback), and what it saw.
struct PasswordRequest {
    const TlsPasswordCallback* callback = nullptr;
    bool asked = false;  // OpenSSL found the key encrypted
    std::exception_ptr error;
};

int password_callback(char* buf, int size, int, void* arg) {
    auto* request = static_cast<PasswordRequest*>(arg);
    request->asked = true;
    if (!request->callback || !*request->callback) return -1;  // never the terminal prompt
    try {
        const std::string password = (*request->callback)();
        if (password.size() > static_cast<std::size_t>(size)) return -1;
        std::memcpy(buf, password.data(), password.size());
        return static_cast<int>(password.size());
    } catch (...) {
        request->error = std::current_exception();
        return -1;
    }
}

/// A read-only memory BIO over `pem` (which must outlive it).
BioPtr memory_bio(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) throw_ssl("BIO_new_mem_buf");
    return bio;
}

/// The end of a PEM stream is reported as an error (no start line): that one is not a failure.
void clear_pem_eof() {
    const unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) ERR_clear_error();
}

/// Loads a certificate chain (leaf first) and its private key, each from a file or from PEM text,
/// and checks that they match. `label` names the PEM options in messages.
void load_identity(SSL_CTX* ctx, const std::string& cert_file, const std::string& cert_pem, const std::string& key_file,
                   const std::string& key_pem, const TlsPasswordCallback& password, const char* pem_prefix) {
    const std::string cert_name = cert_pem.empty() ? "'" + cert_file + "'" : std::string(pem_prefix) + "cert_pem";
    const std::string key_name = key_pem.empty() ? "'" + key_file + "'" : std::string(pem_prefix) + "key_pem";
    if (cert_pem.empty()) {
        require_readable(cert_file, "certificate chain");
        if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
            throw_ssl("cannot load certificate chain " + cert_name);
    } else {
        ERR_clear_error();
        BioPtr bio = memory_bio(cert_pem);
        const X509Ptr leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
        if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) throw_ssl("cannot load certificate chain " + cert_name);
        SSL_CTX_clear_chain_certs(ctx);
        while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
            if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
                X509_free(ca);
                throw_ssl("cannot load certificate chain " + cert_name);
            }
        }
        clear_pem_eof();
    }
    if (key_pem.empty()) require_readable(key_file, "private key");
    BioPtr bio = key_pem.empty() ? BioPtr(BIO_new_file(key_file.c_str(), "r")) : memory_bio(key_pem);
    if (!bio) throw_ssl("cannot open private key " + key_name);
    PasswordRequest request;
    request.callback = &password;
    ERR_clear_error();
    const EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, password_callback, &request));
    if (request.error) std::rethrow_exception(request.error);
    if (!key) {
        if (request.asked && !password) {
            ERR_clear_error();
            throw Error(make_error_code(std::errc::permission_denied),
                        "private key " + key_name + " is encrypted and no key_password was given");
        }
        if (request.asked) throw_ssl("cannot decrypt private key " + key_name + " (wrong key_password?)");
        throw_ssl("cannot load private key " + key_name);
    }
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) throw_ssl("cannot use private key " + key_name);
    if (SSL_CTX_check_private_key(ctx) != 1)
        throw_ssl("private key " + key_name + " does not match certificate " + cert_name);
}

/// Adds the certificates of `pem` to the context's trust store; `what` names the option.
void trust_pem(SSL_CTX* ctx, const std::string& pem, const char* what) {
    ERR_clear_error();
    BioPtr bio = memory_bio(pem);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
        const X509Ptr owned(cert);
        if (X509_STORE_add_cert(store, cert) != 1) throw_ssl(std::string("cannot trust a certificate of ") + what);
        ++added;
    }
    clear_pem_eof();
    if (ERR_peek_error() != 0) throw_ssl(std::string("cannot read ") + what);
    if (added == 0)
        throw Error(make_error_code(std::errc::invalid_argument), std::string(what) + " holds no PEM certificate");
}

/// Version bounds, TLS 1.3 suites and groups (applied after new_ctx, which sets the TLS 1.2 list).
void apply_protocol(SSL_CTX* ctx, TlsVersion min, TlsVersion max, const std::string& ciphersuites, const std::string& groups) {
    if (static_cast<int>(min) > static_cast<int>(max))
        throw std::invalid_argument(std::string("TLS minimum_version ") + to_string(min) + " is above maximum_version " +
                                    to_string(max));
    if (SSL_CTX_set_min_proto_version(ctx, static_cast<int>(min)) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, static_cast<int>(max)) != 1)
        throw_ssl("cannot set the TLS version bounds");
    if (!ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, ciphersuites.c_str()) != 1)
        throw_ssl("cannot set the TLS 1.3 cipher suites '" + ciphersuites + "'");
    if (!groups.empty() && SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1)
        throw_ssl("cannot set the key exchange groups '" + groups + "'");
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void* arg) {
    auto* impl = static_cast<TlsContext::Impl*>(arg);
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, impl->alpn_wire.data(), static_cast<unsigned>(impl->alpn_wire.size()),
                              in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;  // no common protocol (RFC 7301 §3.2)
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

int select_sni(SSL* ssl, int*, void* arg) {
    auto* impl = static_cast<TlsContext::Impl*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_NOACK;
    auto it = impl->sni.find(name);
    if (it != impl->sni.end()) SSL_set_SSL_CTX(ssl, it->second.get());
    return SSL_TLSEXT_ERR_OK;
}

// --- a BIO over the engine's own buffers ----------------------------------------------------

class OpenSslEngine;
BIO_METHOD* engine_bio_method();

class OpenSslEngine final : public detail::TlsEngine {
public:
    OpenSslEngine(const TlsContext& ctx, bool server_side, const std::string& hostname)
        : ctx_(ctx.impl()), hostname_(hostname) {
        owned_ssl_.reset(SSL_new(ctx_->ctx.get()));
        ssl_ = owned_ssl_.get();
        if (!ssl_) throw_ssl("SSL_new");
        BioPtr bio(BIO_new(engine_bio_method()));
        if (!bio) throw_ssl("BIO_new");
        BIO_set_data(bio.get(), this);
        BIO_set_init(bio.get(), 1);
        BIO* shared = bio.release();
        SSL_set_bio(ssl_, shared, shared);  // one BIO for both directions: SSL takes our one reference
        SSL_set_app_data(ssl_, this);         // on_new_session finds the engine (and its key) here
        if (server_side) {
            SSL_set_accept_state(ssl_);
        } else {
            SSL_set_connect_state(ssl_);
            if (!hostname.empty()) {
                in6_addr ip6;
                in_addr ip4;
                bool is_ip = inet_pton(AF_INET, hostname.c_str(), &ip4) == 1 || inet_pton(AF_INET6, hostname.c_str(), &ip6) == 1;
                if (!is_ip) SSL_set_tlsext_host_name(ssl_, hostname.c_str());  // SNI carries names only
                if (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) {
                    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
                    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, hostname.c_str())
                                   : X509_VERIFY_PARAM_set1_host(param, hostname.c_str(), 0);
                    if (ok != 1) throw_ssl("cannot check host name '" + hostname + "'");
                }
            }
        }
    }

    // Ciphertext is read in place from the caller's bytes (no copy per message) while nothing
    // is buffered; only what is left unread when the caller's bytes go away is copied.
    void feed(ByteView c) override {
        if (in_head_ == in_.size() && borrowed_.empty()) {
            in_.clear();
            in_head_ = 0;
            borrowed_ = c;
            return;
        }
        stash();
        in_.append(as_string_view(c));
    }
    void stash() override {
        if (borrowed_.empty()) return;
        in_.append(as_string_view(borrowed_));
        borrowed_ = {};
    }
    void feed_eof() override { eof_ = true; }

    Status handshake() override {
        ERR_clear_error();
        int r = SSL_do_handshake(ssl_);
        return r == 1 ? Status::ok : status_of(r);
    }

    Status read(MutableByteView out, std::size_t& n) override {
        ERR_clear_error();
        n = 0;
        int r = SSL_read_ex(ssl_, out.data(), out.size(), &n) == 1 ? 1 : 0;
        return r == 1 ? Status::ok : status_of(r);
    }

    Status write(ByteView plain) override {
        while (!plain.empty()) {
            ERR_clear_error();
            std::size_t n = 0;
            if (SSL_write_ex(ssl_, plain.data(), plain.size(), &n) != 1) return status_of(0);
            plain = plain.subspan(n);
        }
        return Status::ok;
    }

    void shutdown() override {
        ERR_clear_error();
        SSL_shutdown(ssl_);
    }

    std::string& output() override { return out_; }
    bool has_buffered_input() const override {
        return in_head_ < in_.size() || !borrowed_.empty() || SSL_pending(ssl_) > 0;
    }
    std::error_code error() const override { return error_; }
    std::string error_detail() const override { return detail_; }

    void trim(std::size_t small, std::size_t large) override {
        auto unneeded = [&](const std::string& b) { return b.capacity() < small || b.capacity() > large; };
        if (in_head_ == in_.size() && unneeded(in_)) {
            std::string().swap(in_);
            in_head_ = 0;
        }
        if (out_.empty() && unneeded(out_)) std::string().swap(out_);
    }

    std::optional<std::string> info(std::string_view name) const override {
        if (name == "cipher") return str(SSL_get_cipher_name(ssl_));
        if (name == "version") return str(SSL_get_version(ssl_));
        if (name == "server_name") return str(SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name));
        if (name == "session_reused") return std::string(SSL_session_reused(ssl_) ? "1" : "0");
        if (name == "peercert_verified") return std::string(peer_verified() ? "1" : "0");
        if (name == "alpn_protocol") {
            const unsigned char* p = nullptr;
            unsigned len = 0;
            SSL_get0_alpn_selected(ssl_, &p, &len);
            if (!p) return std::nullopt;
            return std::string(reinterpret_cast<const char*>(p), len);
        }
        if (name.starts_with("peercert_")) return peer_cert_info(name.substr(9));
        return std::nullopt;
    }

    std::optional<ExtraInfo> info_value(std::string_view name) const override {
        if (name == "version") {
            const int v = SSL_version(ssl_);
            if (v == TLS1_2_VERSION) return ExtraInfo(TlsVersion::tls1_2);
            if (v == TLS1_3_VERSION) return ExtraInfo(TlsVersion::tls1_3);
            return std::nullopt;
        }
        if (name == "cipher") {
            const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
            if (!c) return std::nullopt;
            return ExtraInfo(TlsCipher{SSL_CIPHER_get_name(c), SSL_CIPHER_get_version(c), SSL_CIPHER_get_bits(c, nullptr)});
        }
        if (name == "session_reused") return ExtraInfo(SSL_session_reused(ssl_) == 1);
        if (name == "peercert_verified") return ExtraInfo(peer_verified());
        if (name == "peercert") {
            X509* cert = SSL_get0_peer_certificate(ssl_);
            if (!cert) return std::nullopt;
            return ExtraInfo(certificate_of(cert));
        }
        if (name == "alpn_protocol" || name == "server_name") {
            if (auto v = info(name)) return ExtraInfo(std::move(*v));
        }
        return std::nullopt;
    }

    void set_session_key(std::string key) override {
        session_key_ = std::move(key);
        if (!ctx_->sessions) return;
        if (SslSessionPtr session = ctx_->sessions->take(session_key_)) SSL_set_session(ssl_, session.get());
    }

    /// OpenSSL's new-session callback (clients with a session cache): a session or ticket to keep.
    /// Returns 1 when the cache took the reference.
    static int on_new_session(SSL* ssl, SSL_SESSION* session) {
        auto* self = static_cast<OpenSslEngine*>(SSL_get_app_data(ssl));
        if (!self || !self->ctx_->sessions || self->session_key_.empty()) return 0;
        self->ctx_->sessions->put(self->session_key_, session);
        return 1;
    }

    // BIO callbacks
    int bio_read(char* buf, int len) {
        std::size_t avail = in_.size() - in_head_;
        if (avail == 0 && borrowed_.empty()) return eof_ ? 0 : -1;
        std::size_t n;
        if (avail > 0) {
            n = std::min<std::size_t>(avail, static_cast<std::size_t>(len));
            std::memcpy(buf, in_.data() + in_head_, n);
            in_head_ += n;
        } else {
            n = std::min<std::size_t>(borrowed_.size(), static_cast<std::size_t>(len));
            std::memcpy(buf, borrowed_.data(), n);
            borrowed_ = borrowed_.subspan(n);
        }
        return static_cast<int>(n);
    }
    int bio_write(const char* buf, int len) {
        out_.append(buf, static_cast<std::size_t>(len));
        return len;
    }
    bool bio_eof() const { return eof_ && in_head_ == in_.size() && borrowed_.empty(); }

private:
    static std::optional<std::string> str(const char* s) {
        if (!s) return std::nullopt;
        return std::string(s);
    }

    Status status_of(int r) {
        int e = SSL_get_error(ssl_, r);
        switch (e) {
            case SSL_ERROR_WANT_READ:
            case SSL_ERROR_WANT_WRITE: return Status::want_io;
            case SSL_ERROR_ZERO_RETURN: return Status::closed;
            default: break;
        }
        long verify = SSL_get_verify_result(ssl_);
        unsigned long first = ERR_peek_error();
        if (verify != X509_V_OK && ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
            ERR_clear_error();
            error_ = {verify_base + static_cast<int>(verify), tls_category()};
            if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
                detail_ = "expected '" + hostname_ + "', the certificate is for " + leaf_names();
        } else if ((e == SSL_ERROR_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
                   (e == SSL_ERROR_SYSCALL && first == 0)) {
            ERR_clear_error();
            error_ = make_error_code(errc::tls_unexpected_eof);
        } else {
            error_ = take_ssl_error();
        }
        return Status::failed;
    }

    /// The names of the peer's certificate ("DNS:a, IP:1.2.3.4 (CN=a)"), read from the chain it
    /// sent (the session's peer certificate is set only after verification succeeded).
    std::string leaf_names() const {
        STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_);
        X509* leaf = chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : nullptr;
        if (!leaf) return "(no certificate)";
        std::string out = san_of(leaf);
        char cn[256] = {};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn) > 0)
            out += std::string(out.empty() ? "" : " ") + "(CN=" + cn + ")";
        return out.empty() ? "(no names)" : out;
    }

    /// The subjectAltName entries of `cert` ("DNS:a, IP:1.2.3.4").
    static std::string san_of(X509* cert) {
        std::string out;
        const GeneralNamesPtr owned_names(
            static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
        GENERAL_NAMES* names = owned_names.get();
        for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
            GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
            std::string entry;
            if (g->type == GEN_DNS) {
                entry = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                                             static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName)));
            } else if (g->type == GEN_IPADD) {
                char ip[INET6_ADDRSTRLEN] = {};
                int len = ASN1_STRING_length(g->d.iPAddress);
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip);
                entry = std::string("IP:") + ip;
            }
            if (!entry.empty()) out += (out.empty() ? "" : ", ") + entry;
        }
        return out;
    }

    /// The peer sent a certificate and it verified (with verification off, OpenSSL still checks
    /// it and keeps the result).
    bool peer_verified() const {
        return SSL_get0_peer_certificate(ssl_) != nullptr && SSL_get_verify_result(ssl_) == X509_V_OK;
    }

    static std::string name_of(const X509_NAME* name) {
        const BioPtr bio(BIO_new(BIO_s_mem()));
        if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(n));
    }

    static std::chrono::system_clock::time_point time_of(const ASN1_TIME* t) {
        std::tm tm{};
        if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
        return std::chrono::system_clock::from_time_t(::timegm(&tm));
    }

    /// ssl.getpeercert()'s fields, and the DER bytes.
    static TlsPeerCertificate certificate_of(X509* cert) {
        TlsPeerCertificate out;
        out.subject = name_of(X509_get_subject_name(cert));
        out.issuer = name_of(X509_get_issuer_name(cert));
        const GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
        for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
            const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
            auto text = [](const ASN1_STRING* a) {
                return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(a)), static_cast<std::size_t>(ASN1_STRING_length(a)));
            };
            if (g->type == GEN_DNS) {
                out.subject_alt_names.emplace_back("DNS", text(g->d.dNSName));
            } else if (g->type == GEN_EMAIL) {
                out.subject_alt_names.emplace_back("email", text(g->d.rfc822Name));
            } else if (g->type == GEN_URI) {
                out.subject_alt_names.emplace_back("URI", text(g->d.uniformResourceIdentifier));
            } else if (g->type == GEN_IPADD) {
                char ip[INET6_ADDRSTRLEN] = {};
                const int len = ASN1_STRING_length(g->d.iPAddress);
                if (len == 4 || len == 16)
                    inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip);
                out.subject_alt_names.emplace_back("IP Address", ip);
            }
        }
        if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
            if (char* hex = BN_bn2hex(bn)) {
                out.serial_number = hex;
                OPENSSL_free(hex);
            }
            BN_free(bn);
        }
        out.not_before = time_of(X509_get0_notBefore(cert));
        out.not_after = time_of(X509_get0_notAfter(cert));
        const int len = i2d_X509(cert, nullptr);
        if (len > 0) {
            out.der.resize(static_cast<std::size_t>(len));
            auto* p = reinterpret_cast<unsigned char*>(out.der.data());
            i2d_X509(cert, &p);
        }
        return out;
    }

    std::optional<std::string> peer_cert_info(std::string_view what) const {
        const X509Ptr owned_cert(SSL_get1_peer_certificate(ssl_));
        X509* cert = owned_cert.get();
        if (!cert) return std::nullopt;
        std::optional<std::string> out;
        char buf[512];
        if (what == "subject") {
            X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
            out = buf;
        } else if (what == "issuer") {
            X509_NAME_oneline(X509_get_issuer_name(cert), buf, sizeof buf);
            out = buf;
        } else if (what == "san") {
            out = std::string();
            const GeneralNamesPtr owned_names(
                static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
            GENERAL_NAMES* names = owned_names.get();
            for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
                GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
                std::string entry;
                if (g->type == GEN_DNS) {
                    entry = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                                                 static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName)));
                } else if (g->type == GEN_IPADD) {
                    char ip[INET6_ADDRSTRLEN] = {};
                    int len = ASN1_STRING_length(g->d.iPAddress);
                    inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip);
                    entry = std::string("IP:") + ip;
                }
                if (!entry.empty()) *out += (out->empty() ? "" : ",") + entry;
            }
        }
        return out;
    }

    std::shared_ptr<TlsContext::Impl> ctx_;
    std::string hostname_;  // the name checked against the certificate (clients)
    std::string session_key_;  // "host:port" in the context's session cache (clients)
    std::string detail_;    // error_detail()
    SslPtr owned_ssl_;
    SSL* ssl_ = nullptr;  // owned_ssl_.get(), named once: every call site uses it
    std::string in_;
    std::size_t in_head_ = 0;
    ByteView borrowed_;  // fed bytes read in place (see feed)
    std::string out_;
    bool eof_ = false;
    std::error_code error_;
};

BIO_METHOD* engine_bio_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bulb engine");
        BIO_meth_set_read(m, [](BIO* b, char* buf, int len) {
            BIO_clear_retry_flags(b);
            int n = static_cast<OpenSslEngine*>(BIO_get_data(b))->bio_read(buf, len);
            if (n < 0) BIO_set_retry_read(b);
            return n;
        });
        BIO_meth_set_write(m, [](BIO* b, const char* buf, int len) {
            BIO_clear_retry_flags(b);
            return static_cast<OpenSslEngine*>(BIO_get_data(b))->bio_write(buf, len);
        });
        BIO_meth_set_ctrl(m, [](BIO* b, int cmd, long, void*) -> long {
            switch (cmd) {
                case BIO_CTRL_FLUSH: return 1;
                case BIO_CTRL_EOF: return static_cast<OpenSslEngine*>(BIO_get_data(b))->bio_eof() ? 1 : 0;
                default: return 0;
            }
        });
        return m;
    }();
    return method;
}

}  // namespace

const std::error_category& tls_category() noexcept {
    static const TlsCategory category;
    return category;
}

TlsContext TlsContext::client(const TlsClientOptions& options) {
    auto impl = std::make_shared<Impl>();
    impl->ctx = new_ctx(false, options.ciphers);
    SSL_CTX* ctx = impl->ctx.get();
    apply_protocol(ctx, options.minimum_version, options.maximum_version, options.ciphersuites,
                   options.groups);
    if (options.dangerously_disable_verification) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        impl->requires_hostname = options.verify_hostname;
    }
    // The trust store is loaded with verification off too: peercert_verified then still reports.
    if (options.ca_file.empty() && options.ca_dir.empty() && options.ca_pem.empty()) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1 && !options.dangerously_disable_verification)
            throw_ssl("cannot load the system trust store");
        ERR_clear_error();
    } else {
        require_readable(options.ca_file, "CA file");
        require_readable(options.ca_dir, "CA directory");
        if ((!options.ca_file.empty() || !options.ca_dir.empty()) &&
            SSL_CTX_load_verify_locations(ctx, options.ca_file.empty() ? nullptr : options.ca_file.c_str(),
                                          options.ca_dir.empty() ? nullptr : options.ca_dir.c_str()) != 1)
            throw_ssl("cannot load CA file '" + options.ca_file + "' / dir '" + options.ca_dir + "'");
        if (!options.ca_pem.empty()) trust_pem(ctx, options.ca_pem, "TlsClientOptions::ca_pem");
    }
    if (!options.cert_file.empty() || !options.cert_pem.empty())
        load_identity(ctx, options.cert_file, options.cert_pem, options.key_file, options.key_pem, options.key_password,
                      "TlsClientOptions::");
    if (!options.alpn.empty()) {
        impl->alpn_wire = alpn_wire(options.alpn);
        SSL_CTX_set_alpn_protos(ctx, impl->alpn_wire.data(), static_cast<unsigned>(impl->alpn_wire.size()));
    }
    if (options.session_cache) {
        impl->sessions = std::make_unique<SessionCache>(options.session_cache_size);
        // Sessions are kept by bulb's cache (keyed by host:port), not OpenSSL's internal one.
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, OpenSslEngine::on_new_session);
    }
    return TlsContext(std::move(impl));
}

TlsContext TlsContext::client() { return client(TlsClientOptions{}); }

TlsContext TlsContext::server(const std::string& cert_chain_file, const std::string& key_file) {
    return server(cert_chain_file, key_file, TlsServerOptions{});
}

TlsContext TlsContext::server(const std::string& cert_chain_file, const std::string& key_file,
                              const TlsServerOptions& options) {
    TlsCertificate identity;
    identity.cert_chain_file = cert_chain_file;
    identity.key_file = key_file;
    identity.key_password = options.key_password;
    return server(identity, options);
}

TlsContext TlsContext::server(const TlsCertificate& identity, const TlsServerOptions& options) {
    auto impl = std::make_shared<Impl>();
    impl->server = true;
    impl->ctx = new_ctx(true, options.ciphers);
    auto load = [](SSL_CTX* ctx, const TlsCertificate& c) {
        load_identity(ctx, c.cert_chain_file, c.cert_chain_pem, c.key_file, c.key_pem, c.key_password, "TlsCertificate::");
    };
    load(impl->ctx.get(), identity);
    auto configure = [&](SSL_CTX* ctx) {
        apply_protocol(ctx, options.minimum_version, options.maximum_version, options.ciphersuites,
                       options.groups);
        if (!options.client_ca_file.empty() || !options.client_ca_pem.empty()) {
            if (!options.client_ca_file.empty()) {
                require_readable(options.client_ca_file, "client CA file");
                if (SSL_CTX_load_verify_locations(ctx, options.client_ca_file.c_str(), nullptr) != 1)
                    throw_ssl("cannot load client CA file '" + options.client_ca_file + "'");
            }
            if (!options.client_ca_pem.empty()) trust_pem(ctx, options.client_ca_pem, "TlsServerOptions::client_ca_pem");
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (options.require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                               nullptr);
            static const unsigned char sid[] = "bulb";
            SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
        }
        if (!options.session_tickets) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        if (!impl->alpn_wire.empty()) SSL_CTX_set_alpn_select_cb(ctx, select_alpn, impl.get());
    };
    if (!options.alpn.empty()) impl->alpn_wire = alpn_wire(options.alpn);
    configure(impl->ctx.get());
    for (auto& [name, cert] : options.sni) {
        SSL_CTX* c = (impl->sni[name] = new_ctx(true, options.ciphers)).get();
        load(c, cert);
        configure(c);
    }
    if (!impl->sni.empty()) {
        SSL_CTX_set_tlsext_servername_callback(impl->ctx.get(), select_sni);
        SSL_CTX_set_tlsext_servername_arg(impl->ctx.get(), impl.get());
    }
    return TlsContext(std::move(impl));
}

std::size_t TlsContext::session_cache_count() const noexcept {
    return impl_ && impl_->sessions ? impl_->sessions->count() : 0;
}

const char* to_string(TlsVersion version) noexcept {
    switch (version) {
        case TlsVersion::tls1_2: return "TLSv1.2";
        case TlsVersion::tls1_3: return "TLSv1.3";
    }
    return "TLS?";
}

bool TlsContext::is_server() const noexcept { return impl_ && impl_->server; }
bool TlsContext::requires_hostname() const noexcept { return impl_ && impl_->requires_hostname; }

namespace detail {

std::unique_ptr<TlsEngine> TlsEngine::create(const TlsContext& ctx, bool server_side, const std::string& server_hostname) {
    if (!ctx.impl()) throw std::invalid_argument("empty TlsContext");
    return std::make_unique<OpenSslEngine>(ctx, server_side, server_hostname);
}

}  // namespace detail
}  // namespace bulb
