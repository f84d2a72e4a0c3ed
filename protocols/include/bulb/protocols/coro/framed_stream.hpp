// SPDX-License-Identifier: MIT
/// @file
/// FramedReader<Codec> / FramedWriter<Codec>: the codecs of codec.hpp over the streams layer
/// (coroutine style), with the same codec objects as FramedProtocol. The coroutine adapters of
/// libbulb-protocols live under <bulb/protocols/coro/>, above the coroutine layer.
#pragma once

#include <bulb/coro/async_generator.hpp>
#include <bulb/coro/stream_reader.hpp>
#include <bulb/coro/stream_writer.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/protocols/codec.hpp>

#include <optional>
#include <string>
#include <utility>

namespace bulb::protocols {

/// Reads whole frames from a StreamReader:
///
///     FramedReader<LineCodec> lines(reader);
///     while (auto line = co_await lines.read()) handle(*line);
///
/// Loop thread only; one coroutine reads at a time. read() returns std::nullopt at a clean EOF
/// and throws FrameError for bad input (and at EOF inside a frame).
/// Cancel safety: a read() cancelled while it waits loses nothing; bytes already received stay
/// buffered here and the next read() frames them.
template <Codec C>
class FramedReader {
public:
    /// What the codec decodes.
    using Frame = typename C::Frame;

    /// Reads frames of `codec` from `reader`, `read_size` bytes at a time at most.
    explicit FramedReader(StreamReader reader, C codec = C{}, std::size_t read_size = 64 * 1024)
        : reader_(std::move(reader)), codec_(std::move(codec)), read_size_(read_size) {}

    /// The next frame, or std::nullopt at EOF.
    Task<std::optional<Frame>> read() {
        for (;;) {
            std::optional<Frame> frame = codec_.decode(buffer_);
            if (frame) co_return frame;
            if (eof_) {
                frame = codec_.decode_eof(buffer_);
                if (frame) co_return frame;
                if (!buffer_.empty()) throw FrameError::truncated("end of stream inside a frame", buffer_.size());
                co_return frame;
            }
            // Read no further than the codec's limit: an overlong frame is rejected before the
            // buffer holds more than the limit (and it grows toward it without a doubling copy).
            const std::size_t limit = codec_buffer_limit(codec_);
            buffer_.set_growth_limit(limit);
            std::size_t want = read_size_;
            if (limit > buffer_.size() && limit - buffer_.size() < want) want = limit - buffer_.size();
            auto n = static_cast<std::ptrdiff_t>(want);
            std::string chunk = co_await reader_.read(n);
            if (chunk.empty()) {
                eof_ = true;
            } else {
                buffer_.append(chunk);
            }
        }
    }
    /// Every frame until EOF: `auto f = r.frames(); while (auto x = co_await f.next()) ...`.
    /// Errors and cancel safety as read().
    AsyncGenerator<Frame> frames() {
        for (;;) {
            std::optional<Frame> frame = co_await read();
            if (!frame) co_return;
            co_yield std::move(*frame);
        }
    }

    /// The codec (for its options or state).
    C& codec() noexcept { return codec_; }
    /// The underlying stream.
    StreamReader& stream() noexcept { return reader_; }
    /// Bytes received and not framed yet.
    std::size_t buffered() const noexcept { return buffer_.size(); }

private:
    StreamReader reader_;
    C codec_;
    FrameBuffer buffer_;
    std::size_t read_size_;
    bool eof_ = false;
};

/// Writes frames to a StreamWriter with backpressure:
///
///     FramedWriter<LineCodec> out(writer);
///     co_await out.send("hello");
///
/// Loop thread only. Cancel safety: a send() cancelled while it drains has queued its whole
/// frame already (a frame is never half written); only the wait for the drain stops.
template <Codec C>
class FramedWriter {
public:
    /// What the codec encodes.
    using Frame = typename C::Frame;

    /// Writes frames of `codec` to `writer`.
    explicit FramedWriter(StreamWriter writer, C codec = C{})
        : writer_(std::move(writer)), codec_(std::move(codec)) {}

    /// Encodes and queues `frame` without waiting (follow with drain()).
    void write(const Frame& frame) {
        std::string out;
        codec_.encode(frame, out);
        writer_.write(std::string_view(out));
    }
    /// Waits until the transport's buffer drained (StreamWriter::drain).
    Task<void> drain() { return writer_.drain(); }
    /// write(frame), then drain().
    Task<void> send(Frame frame) {
        write(frame);
        co_await writer_.drain();
    }

    /// The codec (for its options or state).
    C& codec() noexcept { return codec_; }
    /// The underlying stream.
    StreamWriter& stream() noexcept { return writer_; }

private:
    StreamWriter writer_;
    C codec_;
};

}  // namespace bulb::protocols
