// SPDX-License-Identifier: MIT
/// @file
/// A UDP (or Unix datagram) echo client on the callback API: sends numbered datagrams, checks
/// each echo, reports round-trip times and losses.
///
///     udp_echo_client [--host HOST] --port PORT | --unix PATH
///                     [--count N] [--size BYTES] [--window N] [--timeout SECONDS] [--quiet]
///
/// Sends --count datagrams (default 1) of --size bytes (default 64; a datagram of 8 bytes or more
/// carries its sequence number, the rest a pattern derived from it), at most --window waiting
/// for their echo at a time (0: no limit; default 64, fewer for large datagrams so that a window
/// fits in 128 KiB: the kernel's default receive buffer drops what does not fit). Prints "reply seq=N bytes=B rtt=T ms" per echo
/// (not with --quiet), then "sent N received M lost L corrupt C rtt min/median/max A/B/C ms".
/// Gives up --timeout seconds (default 2) after the last reply or send. Exits 0 when every echo
/// came back intact, 1 when one is missing or wrong (or on an error), 2 on bad options.

#include <bulb/bulb.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

using Clock = std::chrono::steady_clock;

struct Settings {
    std::string host = "127.0.0.1", unix_path;
    long port = -1;
    std::uint64_t count = 1;
    std::size_t size = 64;
    std::int64_t window = -1;  // -1: the default
    double timeout = 2.0;
    bool quiet = false;
};

/// The payload of datagram `seq`: its number (little-endian, when there is room), then a pattern.
static std::string payload(std::uint64_t seq, std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('A' + (seq + i) % 23);
    if (size >= 8) std::memcpy(s.data(), &seq, 8);
    return s;
}

/// What the client counted; kept by main (the protocol dies with its endpoint).
struct Stats {
    std::uint64_t sent = 0, received = 0, corrupt = 0, errors = 0;
    std::vector<double> rtts_ms;
};

class EchoClient : public bulb::DatagramProtocol {
public:
    EchoClient(const Settings& s, Stats& stats, bulb::EventLoop& loop, bulb::Future<void> done)
        : s_(s), st_(stats), loop_(loop), done_(std::move(done)), sent_at_(s.count) {}

    void connection_made(bulb::DatagramTransport& t) override {
        t_ = &t;
        fill_window();
        arm_timeout();
    }
    void datagram_received(bulb::ByteView data, const bulb::SocketAddress&) override {
        std::uint64_t seq;
        if (s_.size >= 8 && data.size() >= 8) {
            std::memcpy(&seq, data.data(), 8);
        } else if (!fifo_.empty()) {
            seq = fifo_.front();  // too small to carry a number: echoes come back in order on loopback
        } else {
            seq = s_.count;  // nothing was waiting
        }
        if (seq >= s_.count || answered(seq) || bulb::to_string(data) != payload(seq, s_.size)) {
            ++st_.corrupt;
            std::fprintf(stderr, "udp_echo_client: unexpected datagram of %zu bytes\n", data.size());
        } else {
            if (s_.size < 8) fifo_.pop_front();
            double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent_at_[seq]).count();
            sent_at_[seq] = Clock::time_point{};  // answered
            st_.rtts_ms.push_back(ms);
            ++st_.received;
            if (!s_.quiet) std::printf("reply seq=%llu bytes=%zu rtt=%.3f ms\n", static_cast<unsigned long long>(seq),
                                       data.size(), ms);
        }
        if (st_.received == s_.count) return finish();
        fill_window();
        arm_timeout();
    }
    void error_received(std::error_code ec, const bulb::SocketAddress& addr) override {
        ++st_.errors;
        std::fprintf(stderr, "udp_echo_client: %s: %s\n", addr.to_string().c_str(), ec.message().c_str());
    }
    void pause_writing() override { paused_ = true; }
    void resume_writing() override {
        paused_ = false;
        fill_window();
    }
    void connection_lost(std::error_code) override {
        timer_.cancel();
        if (!done_.done()) done_.set_result();
    }

private:
    bool answered(std::uint64_t seq) const { return sent_at_[seq] == Clock::time_point{}; }
    void fill_window() {
        while (st_.sent < s_.count && !paused_ && (s_.window == 0 || st_.sent - st_.received < static_cast<std::uint64_t>(s_.window))) {
            std::uint64_t seq = st_.sent++;
            sent_at_[seq] = Clock::now();
            if (s_.size < 8) fifo_.push_back(seq);
            t_->sendto(bulb::as_bytes(payload(seq, s_.size)));
            if (t_->is_closing()) return;
        }
    }
    void arm_timeout() {
        timer_.cancel();
        timer_ = loop_.call_later(std::chrono::duration_cast<bulb::Duration>(std::chrono::duration<double>(s_.timeout)),
                                  [this] { finish(); });
    }
    void finish() { t_->close(); }

    const Settings& s_;
    Stats& st_;
    bulb::EventLoop& loop_;
    bulb::Future<void> done_;
    bulb::DatagramTransport* t_ = nullptr;
    std::vector<Clock::time_point> sent_at_;
    std::deque<std::uint64_t> fifo_;
    bulb::TimerHandle timer_;
    bool paused_ = false;
};

[[noreturn]] static void usage(const char* bad = nullptr) {
    if (bad) std::fprintf(stderr, "udp_echo_client: unknown, incomplete or invalid option '%s'\n", bad);
    std::fprintf(stderr, "usage: udp_echo_client [--host HOST] --port PORT | --unix PATH [--count N] [--size BYTES]"
                         " [--window N] [--timeout SECONDS] [--quiet]\n");
    std::exit(2);
}

static long long number(int argc, char** argv, int& i, long long lo, long long hi) {
    if (i + 1 >= argc) usage(argv[i]);
    char* end;
    long long v = std::strtoll(argv[i + 1], &end, 10);
    if (*argv[i + 1] == '\0' || *end != '\0' || v < lo || v > hi) usage(argv[i]);
    ++i;
    return v;
}

static int run(const Settings& s) {
    bulb::EventLoop loop;
    bulb::DatagramEndpointOptions options;
    if (s.unix_path.empty())
        options.remote_addr = bulb::HostPort{s.host, static_cast<std::uint16_t>(s.port)};
    else
        options.remote_path = s.unix_path;
    bulb::Future<void> done(loop);
    Stats stats;
    auto* client = &stats;
    loop.run_until_complete(
        loop.create_datagram_endpoint([&] { return std::make_unique<EchoClient>(s, stats, loop, done); }, options));
    loop.run_until_complete(done);
    std::vector<double> rtts = client->rtts_ms;
    std::sort(rtts.begin(), rtts.end());
    std::uint64_t lost = client->sent - client->received;
    std::printf("sent %llu received %llu lost %llu corrupt %llu", static_cast<unsigned long long>(client->sent),
                static_cast<unsigned long long>(client->received), static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(client->corrupt));
    if (!rtts.empty())
        std::printf(" rtt min/median/max %.3f/%.3f/%.3f ms", rtts.front(), rtts[rtts.size() / 2], rtts.back());
    std::printf("\n");
    bool ok = client->sent == s.count && lost == 0 && client->corrupt == 0;
    loop.close();
    return ok ? 0 : 1;
}

int main(int argc, char** argv) {
    Settings s;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--quiet") {
            s.quiet = true;
        } else if (arg == "--host" && i + 1 < argc) {
            s.host = argv[++i];
        } else if (arg == "--unix" && i + 1 < argc) {
            s.unix_path = argv[++i];
        } else if (arg == "--port") {
            s.port = number(argc, argv, i, 1, 65535);
        } else if (arg == "--count") {
            s.count = static_cast<std::uint64_t>(number(argc, argv, i, 1, 100'000'000));
        } else if (arg == "--size") {
            s.size = static_cast<std::size_t>(number(argc, argv, i, 0, 65507));
        } else if (arg == "--window") {
            s.window = number(argc, argv, i, 0, 100'000'000);
        } else if (arg == "--timeout") {
            if (i + 1 >= argc) usage(argv[i]);
            char* end;
            s.timeout = std::strtod(argv[++i], &end);
            if (*argv[i] == '\0' || *end != '\0' || !(s.timeout > 0) || s.timeout > 3600) usage(argv[i - 1]);
        } else {
            usage(argv[i]);
        }
    }
    if ((s.port < 0) == s.unix_path.empty()) usage();
    if (s.window < 0) s.window = static_cast<std::int64_t>(std::clamp<std::size_t>(128 * 1024 / (s.size + 64), 1, 64));
    try {
        return run(s);
    } catch (const std::exception& e) {  // does not resolve, the Unix path does not exist, ...
        std::fprintf(stderr, "udp_echo_client: %s\n", e.what());
        return 1;
    }
}
