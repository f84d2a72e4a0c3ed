// SPDX-License-Identifier: MIT
// The deadline of one request body (ServerSettings::body_timeout): set when the head arrives,
// moved later by the time the handler holds the body paused (that wait is the server's own),
// gone when the body is complete. Private to the server; loop thread only.
#pragma once

#include <bulb/time.hpp>

#include <optional>

namespace bulb::http {

class BodyDeadline {
public:
    /// A body starts now and must be complete within `timeout` (Duration::max(): no limit).
    void start(TimePoint now, Duration timeout) noexcept {
        paused_at_.reset();
        deadline_.reset();
        if (timeout < TimePoint::max() - now) deadline_ = now + timeout;
    }
    /// The body is complete (or there is none): no deadline.
    void clear() noexcept {
        deadline_.reset();
        paused_at_.reset();
    }
    /// The handler paused the body: the clock stops.
    void pause(TimePoint now) noexcept {
        if (deadline_ && !paused_at_) paused_at_ = now;
    }
    /// The handler resumed the body: the deadline moves by the pause.
    void resume(TimePoint now) noexcept {
        if (deadline_ && paused_at_) *deadline_ += now - *paused_at_;
        paused_at_.reset();
    }
    /// The time to arm a timer for, or nothing (no body in progress, or paused).
    std::optional<TimePoint> due() const noexcept {
        if (paused_at_) return std::nullopt;
        return deadline_;
    }

private:
    std::optional<TimePoint> deadline_;
    std::optional<TimePoint> paused_at_;
};

}  // namespace bulb::http
