// SPDX-License-Identifier: MIT
/// @file
/// RecordingProtocol: a stream protocol that records every callback and checks the callback chart
/// of <bulb/protocol.hpp> as it goes:
///
///     connection_made -> data_received* -> eof_received? -> connection_lost (exactly once, last)
///
/// with pause_writing / resume_writing strictly alternating (starting with pause_writing) between
/// connection_made and connection_lost. Violations are recorded as text (Recorder::violations)
/// and checked by the transport fixture at the end of every test; nothing throws from here unless
/// a test's hook does.
///
/// The Recorder is shared (the transport owns and destroys the protocol right after
/// connection_lost; the test keeps the Recorder). Hooks let a test act in a callback.
#pragma once

#include <bulb/protocol.hpp>
#include <bulb/transport.hpp>

#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace bulb_transport_test {

class Recorder {
public:
    enum class State { fresh, made, eof, lost };

    // --- what happened -----------------------------------------------------------------------
    State state = State::fresh;
    bulb::Transport* transport = nullptr;  // from connection_made (identity only)
    int made = 0, eofs = 0, lost = 0, pauses = 0, resumes = 0;
    std::size_t data_calls = 0;
    std::size_t get_buffer_calls = 0;  // BufferedProtocol
    std::size_t bytes = 0;
    std::string data;  // the bytes received, while keep_data is true
    std::error_code lost_ec;
    bool writing_paused = false;
    bool destroyed = false;  // the protocol object was destroyed
    std::vector<std::string> violations;

    // --- how to behave -----------------------------------------------------------------------
    bool keep_data = true;
    bool eof_keep_open = false;  // eof_received()'s answer when there is no on_eof hook
    std::size_t buffer_size = 64 * 1024;  // BufferedProtocol: get_buffer() returns this much
    std::function<void(bulb::Transport&)> on_made;
    std::function<void(bulb::ByteView)> on_data;
    std::function<bool()> on_eof;
    std::function<void(std::error_code)> on_lost;
    std::function<void()> on_pause, on_resume;
    std::function<void()> on_get_buffer;  // called before get_buffer() returns (may throw)

    /// The compressed sequence of callbacks: consecutive data callbacks appear once, e.g.
    /// "made,data,eof,lost" or "made,pause,resume,lost".
    const std::string& sequence() const { return sequence_; }
    /// True once connection_lost() ran.
    bool is_lost() const { return lost > 0; }

    /// The protocol was handed on with set_protocol(): it will not see connection_lost.
    void detach() { detached_ = true; }
    bool detached() const { return detached_; }
    /// This recorder's protocol joins an established connection through set_protocol(): it
    /// starts in the "made" state without a connection_made call.
    void adopt(bulb::Transport& t) {
        state = State::made;
        transport = &t;
        append("adopted");
    }

    // --- called by the protocols -------------------------------------------------------------
    struct Scope {  // counts nesting of non-flow-control callbacks (re-entrancy check)
        Recorder& r;
        explicit Scope(Recorder& rec) : r(rec) { ++r.depth_; }
        ~Scope() { --r.depth_; }
    };

    void record_made(bulb::Transport& t) {
        if (depth_ != 0) violate("connection_made re-entered another callback");
        if (state != State::fresh) violate("connection_made called twice or late");
        state = State::made;
        transport = &t;
        ++made;
        append("made");
    }
    void record_data(bulb::ByteView d) {
        if (depth_ != 0) violate("data_received re-entered another callback (e.g. from connection_made)");
        if (state == State::fresh) violate("data_received before connection_made");
        if (state == State::eof) violate("data_received after eof_received");
        if (state == State::lost) violate("data_received after connection_lost");
        if (d.empty()) violate("data_received with no bytes");
        ++data_calls;
        bytes += d.size();
        if (keep_data) data.append(reinterpret_cast<const char*>(d.data()), d.size());
        if (sequence_.size() < 4 || sequence_.compare(sequence_.size() - 4, 4, "data") != 0) append("data");
    }
    void record_eof() {
        if (depth_ != 0) violate("eof_received re-entered another callback");
        if (state != State::made) violate("eof_received outside the made state (twice, early or after lost)");
        state = State::eof;
        ++eofs;
        append("eof");
    }
    void record_lost(std::error_code ec) {
        if (depth_ != 0) violate("connection_lost re-entered another callback");
        if (state == State::fresh) violate("connection_lost without connection_made");
        if (state == State::lost) violate("connection_lost called twice");
        state = State::lost;
        ++lost;
        lost_ec = ec;
        append("lost");
    }
    void record_pause() {
        if (state == State::fresh || state == State::lost) violate("pause_writing outside the connection");
        if (writing_paused) violate("pause_writing twice in a row");
        writing_paused = true;
        ++pauses;
        append("pause");
    }
    void record_resume() {
        if (state == State::fresh || state == State::lost) violate("resume_writing outside the connection");
        if (!writing_paused) violate("resume_writing without pause_writing");
        writing_paused = false;
        ++resumes;
        append("resume");
    }
    void violate(const std::string& what) { violations.push_back(what + " [sequence: " + sequence_ + "]"); }

private:
    void append(const char* ev) {
        if (!sequence_.empty()) sequence_ += ',';
        sequence_ += ev;
    }
    std::string sequence_;
    int depth_ = 0;
    bool detached_ = false;
};

using RecorderPtr = std::shared_ptr<Recorder>;

/// A Protocol that records into a Recorder and runs its hooks.
class RecordingProtocol : public bulb::Protocol {
public:
    explicit RecordingProtocol(RecorderPtr r) : r_(std::move(r)) {}
    ~RecordingProtocol() override { r_->destroyed = true; }

    void connection_made(bulb::Transport& t) override {
        r_->record_made(t);
        Recorder::Scope s(*r_);
        if (r_->on_made) r_->on_made(t);
    }
    void data_received(bulb::ByteView d) override {
        r_->record_data(d);
        Recorder::Scope s(*r_);
        if (r_->on_data) r_->on_data(d);
    }
    bool eof_received() override {
        r_->record_eof();
        Recorder::Scope s(*r_);
        return r_->on_eof ? r_->on_eof() : r_->eof_keep_open;
    }
    void connection_lost(std::error_code ec) override {
        r_->record_lost(ec);
        Recorder::Scope s(*r_);
        if (r_->on_lost) r_->on_lost(ec);
    }
    void pause_writing() override {
        r_->record_pause();
        if (r_->on_pause) r_->on_pause();
    }
    void resume_writing() override {
        r_->record_resume();
        if (r_->on_resume) r_->on_resume();
    }
    const RecorderPtr& recorder() const { return r_; }

private:
    RecorderPtr r_;
};

/// A BufferedProtocol that records into a Recorder: reads land in its own buffer
/// (Recorder::buffer_size bytes), buffer_updated() records them as data.
class RecordingBufferedProtocol : public bulb::BufferedProtocol {
public:
    explicit RecordingBufferedProtocol(RecorderPtr r) : r_(std::move(r)), buf_(r_->buffer_size) {}
    ~RecordingBufferedProtocol() override { r_->destroyed = true; }

    void connection_made(bulb::Transport& t) override {
        r_->record_made(t);
        Recorder::Scope s(*r_);
        if (r_->on_made) r_->on_made(t);
    }
    bulb::MutableByteView get_buffer(std::size_t size_hint) override {
        if (r_->state != Recorder::State::made) r_->violate("get_buffer outside the made state");
        if (size_hint == 0) r_->violate("get_buffer with a zero size hint");
        ++r_->get_buffer_calls;
        if (r_->on_get_buffer) r_->on_get_buffer();
        return {buf_.data(), buf_.size()};
    }
    void buffer_updated(std::size_t n) override {
        if (n > buf_.size()) r_->violate("buffer_updated beyond the buffer");
        r_->record_data({buf_.data(), n});
        Recorder::Scope s(*r_);
        if (r_->on_data) r_->on_data({buf_.data(), n});
    }
    bool eof_received() override {
        r_->record_eof();
        Recorder::Scope s(*r_);
        return r_->on_eof ? r_->on_eof() : r_->eof_keep_open;
    }
    void connection_lost(std::error_code ec) override {
        r_->record_lost(ec);
        Recorder::Scope s(*r_);
        if (r_->on_lost) r_->on_lost(ec);
    }
    void pause_writing() override {
        r_->record_pause();
        if (r_->on_pause) r_->on_pause();
    }
    void resume_writing() override {
        r_->record_resume();
        if (r_->on_resume) r_->on_resume();
    }
private:
    RecorderPtr r_;
    std::vector<std::byte> buf_;
};

/// The recorders of every connection a factory made (a server's, or one create_connection's).
struct RecorderSet {
    std::vector<RecorderPtr> all;
    /// Applied to each new recorder before its protocol exists (set hooks, buffer size ...).
    std::function<void(Recorder&)> setup;
    bool buffered = false;  // make RecordingBufferedProtocols

    std::size_t size() const { return all.size(); }
    Recorder& operator[](std::size_t i) const { return *all.at(i); }
    std::size_t count_made() const {
        std::size_t n = 0;
        for (auto& r : all) n += r->made;
        return n;
    }
    std::size_t count_lost() const {
        std::size_t n = 0;
        for (auto& r : all) n += r->lost;
        return n;
    }
};
using RecorderSetPtr = std::shared_ptr<RecorderSet>;

/// A factory making one recording protocol (and Recorder, kept in `set`) per connection.
inline bulb::ProtocolFactory recording_factory(RecorderSetPtr set) {
    return [set]() -> std::unique_ptr<bulb::Protocol> {
        auto r = std::make_shared<Recorder>();
        if (set->setup) set->setup(*r);
        set->all.push_back(r);
        if (set->buffered) return std::make_unique<RecordingBufferedProtocol>(r);
        return std::make_unique<RecordingProtocol>(r);
    };
}

/// Checks a recorder at the end of a test: no chart violation, exactly one connection_lost
/// for every connection_made (unless handed on), protocol destroyed once lost.
/// Returns the problems as text (empty when fine).
inline std::vector<std::string> final_problems(const Recorder& r) {
    std::vector<std::string> out = r.violations;
    if (r.detached()) return out;
    if (r.state != Recorder::State::fresh && r.lost != 1)
        out.push_back("connection_lost ran " + std::to_string(r.lost) + " times [sequence: " + r.sequence() + "]");
    if (r.lost == 1 && !r.destroyed) out.push_back("protocol not destroyed after connection_lost");
    return out;
}

}  // namespace bulb_transport_test
