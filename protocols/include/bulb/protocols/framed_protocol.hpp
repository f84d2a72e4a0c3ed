// SPDX-License-Identifier: MIT
/// @file
/// FramedProtocol<Codec>: a Protocol that delivers whole frames (callback style).
#pragma once

#include <bulb/handle.hpp>
#include <bulb/loop.hpp>
#include <bulb/protocol.hpp>
#include <bulb/protocols/codec.hpp>
#include <bulb/transport.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace bulb::protocols {

/// Frames the byte stream with a Codec and calls frame_received() once per frame. Derive from
/// it; like any Protocol it is owned by its transport. Loop thread only.
///
/// - Frames are delivered in order, one call each, from data_received (and, after
///   resume_reading(), from a callback of the loop). Whole frames in one read are decoded
///   straight from the transport's buffer; only an unfinished tail is copied.
/// - pause_reading() (this class's or the transport's) takes effect between frames: frames
///   already received stay buffered until resume_reading() of this class delivers them.
/// - No frame is delivered once the transport is closing (close(), abort(), connection lost).
/// - At EOF the frames still buffered are delivered, then the codec's decode_eof() tail; then
///   stream_ended() decides whether the transport stays open for writing.
/// - A FrameError from the codec goes to frame_error(); unless the codec marked it
///   recoverable, the connection is then closed (after what was already sent).
template <Codec C>
class FramedProtocol : public Protocol {
public:
    /// What the codec decodes.
    using Frame = typename C::Frame;

    /// A protocol framing with `codec`.
    explicit FramedProtocol(C codec = C{}) : codec_(std::move(codec)) {}
    ~FramedProtocol() override { resume_.cancel(); }

    /// A frame arrived.
    virtual void frame_received(Frame frame) = 0;
    /// The codec rejected the input (`error` names what and which limit). The default closes
    /// the connection; a recoverable error left open goes on with the next frame.
    virtual void frame_error(const FrameError& error) {
        (void)error;
        close();
    }
    /// EOF was received and every frame delivered. Return true to keep the transport open for
    /// writing (then close it yourself); false (the default) closes it.
    virtual bool stream_ended() { return false; }

    /// Encodes `frame` and writes it (or gathers it; see set_gather_writes()).
    void send(const Frame& frame) {
        if (gathering_) {
            codec_.encode(frame, gathered_);
            return;
        }
        std::string out;
        codec_.encode(frame, out);
        transport_->write(out);
    }
    /// Writes bytes that are already encoded (replies built without a Frame object).
    void send_encoded(std::string_view bytes) {
        if (gathering_) {
            gathered_.append(bytes);
        } else {
            transport_->write(bytes);
        }
    }
    /// When on, frames sent while a batch of received frames is delivered are gathered and
    /// written with one call after the batch (one system call for a pipeline of requests).
    /// Off by default: send() writes at once, as Transport::write does.
    void set_gather_writes(bool on) noexcept { gather_writes_ = on; }
    /// Bytes gathered and not yet handed to the transport.
    std::size_t gathered_size() const noexcept { return gathered_.size(); }
    /// Hands gathered bytes to the transport now.
    void flush() {
        if (gathered_.empty() || !transport_) return;
        transport_->write(gathered_);
        gathered_.clear();
    }
    /// flush(), then closes the transport (buffered data still goes out).
    void close() {
        if (!transport_) return;
        flush();
        transport_->close();
    }
    /// Stops frame delivery after the current frame (and reading from the transport).
    void pause_reading() {
        if (transport_) transport_->pause_reading();
    }
    /// Restarts reading, and delivers the frames already buffered from a loop callback.
    void resume_reading() {
        if (!transport_ || transport_->is_closing()) return;
        transport_->resume_reading();
        if (!buffer_.empty() && !resume_) {
            resume_ = transport_->get_loop().call_soon([this] {
                resume_ = Handle();
                deliver();
            });
        }
    }

    /// The transport (valid from connection_made until connection_lost returns).
    Transport* transport() const noexcept { return transport_; }
    /// The codec (its options and state).
    C& codec() noexcept { return codec_; }
    /// Bytes received and not framed yet.
    std::size_t buffered() const noexcept { return buffer_.size(); }

    /// Keeps the transport for send(); an override must call it.
    void connection_made(Transport& transport) override { transport_ = &transport; }
    /// Decodes frames and calls frame_received() for each.
    void data_received(ByteView data) final {
        if (failed_ || !transport_ || transport_->is_closing()) return;
        std::string_view rest = as_string_view(data);
        const std::size_t limit = codec_buffer_limit(codec_);
        buffer_.set_growth_limit(limit);
        try {
            if (buffer_.empty()) {
                buffer_.borrow(rest);
                deliver();
            } else {
                // Appended at most up to the codec's limit at a time while frames can be
                // delivered: the codec frames or rejects (an overlong line is discarded) before
                // the buffer holds more than the limit.
                do {
                    std::size_t take = rest.size();
                    std::size_t size = buffer_.size();
                    if (limit != 0 && size < limit && limit - size < take && can_deliver()) take = limit - size;
                    buffer_.append(rest.substr(0, take));
                    rest.remove_prefix(take);
                    deliver();
                } while (!rest.empty() && !failed_ && transport_ && !transport_->is_closing());
            }
        } catch (...) {
            buffer_.clear();  // the transport is aborted: nothing may view `data` after this call
            throw;
        }
        buffer_.keep();
    }
    /// Decodes what is left (decode_eof).
    bool eof_received() final {
        if (failed_ || !transport_ || transport_->is_closing()) return false;
        at_eof_ = true;
        deliver();
        if (failed_ || transport_->is_closing()) return false;
        return stream_ended();
    }

private:
    bool can_deliver() const noexcept {
        return !failed_ && !transport_->is_closing() && (at_eof_ || transport_->is_reading());
    }

    void deliver() {
        if (!transport_) return;
        for (;;) {  // once per recoverable FrameError
            gathering_ = gather_writes_;
            try {
                while (can_deliver()) {
                    std::optional<Frame> frame = codec_.decode(buffer_);
                    if (!frame && at_eof_) {
                        frame = codec_.decode_eof(buffer_);
                        if (!frame && !buffer_.empty())
                            throw FrameError::truncated("end of stream inside a frame", buffer_.size());
                    }
                    if (!frame) break;
                    frame_received(std::move(*frame));
                }
            } catch (const FrameError& e) {
                gathering_ = false;
                flush();
                if (!e.recoverable()) {
                    failed_ = true;
                    buffer_.clear();
                }
                frame_error(e);
                if (!failed_) continue;
                if (transport_ && !transport_->is_closing()) close();
                return;
            } catch (...) {
                gathering_ = false;
                gathered_.clear();
                throw;
            }
            gathering_ = false;
            flush();
            return;
        }
    }

    C codec_;
    FrameBuffer buffer_;
    std::string gathered_;
    Transport* transport_ = nullptr;
    Handle resume_;
    bool gather_writes_ = false;
    bool gathering_ = false;
    bool at_eof_ = false;
    bool failed_ = false;
};

}  // namespace bulb::protocols
