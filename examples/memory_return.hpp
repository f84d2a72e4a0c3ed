// SPDX-License-Identifier: MIT
/// @file
/// MemoryReturn: gives freed heap memory back to the system once a server goes quiet, so its RSS
/// returns near the baseline after a burst (glibc keeps freed memory for reuse otherwise).
#pragma once

#include <bulb/loop.hpp>

#include <chrono>

#include <malloc.h>

/// Call settle() whenever a burst may have ended (a client left, a big line was dropped): one
/// second later, if nothing called settle() again, malloc_trim(0) returns free heap pages (also
/// those inside the heap, with MADV_DONTNEED). Made once per process, before the first client:
/// it also fixes glibc's mmap threshold at 256 KiB so big buffers (long lines, backlogs) are
/// mapped and unmapped on their own instead of raising the threshold and staying in the heap.
/// Loop thread only.
class MemoryReturn {
public:
    explicit MemoryReturn(bulb::EventLoop& loop) : loop_(loop) {
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);  // fixed: no dynamic growth up to 32 MiB
    }
    ~MemoryReturn() { timer_.cancel(); }
    MemoryReturn(const MemoryReturn&) = delete;
    MemoryReturn& operator=(const MemoryReturn&) = delete;

    /// (Re)starts the quiet period after which memory is returned.
    void settle() {
        due_ = loop_.time() + quiet;
        if (!timer_ || timer_.cancelled() || fired_) arm(due_);
    }

private:
    static constexpr std::chrono::seconds quiet{1};

    // One timer, moved lazily: when it fires early (settle() was called since), it re-arms.
    void arm(bulb::TimePoint when) {
        fired_ = false;
        timer_ = loop_.call_at(when, [this] {
            if (loop_.time() < due_) return arm(due_);
            fired_ = true;
            malloc_trim(0);
        });
    }

    bulb::EventLoop& loop_;
    bulb::TimerHandle timer_;
    bulb::TimePoint due_{};
    bool fired_ = false;
};
