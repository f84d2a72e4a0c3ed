// SPDX-License-Identifier: MIT
/// @file
/// LoopImpl: the ready queue, the timers, libevent driving, watchers and the exception handler.
#pragma once

#include <bulb/loop.hpp>

#include "loop/loop_resource.hpp"
#include "loop/ring_queue.hpp"
#include "loop/thread_pool.hpp"
#include "loop/timer_queue.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

struct event;
struct event_base;

namespace bulb::detail {

/// The loop's private state. One iteration (run_once): poll libevent once, move due timers to
/// the ready queue, run exactly the callbacks that were ready when the iteration began.
class LoopImpl {
public:
    LoopImpl(EventLoop& owner, const LoopOptions& options);
    ~LoopImpl();

    EventLoop& owner() noexcept { return owner_; }
    event_base* base() noexcept { return base_; }

    void run_forever();
    void stop() noexcept { stopping_ = true; }
    bool is_running() const noexcept { return running_; }
    void close();
    /// close() for the destructors: also on a loop still marked running. Idempotent.
    void close_for_destruction();
    bool is_closed() const noexcept { return closed_; }

    std::int64_t now_ns() const noexcept;
    ScheduledCallback* call_soon(UniqueFunction<void()>&& fn);
    ScheduledCallback* call_at(std::int64_t when_ns, UniqueFunction<void()>&& fn);
    void call_soon_threadsafe(UniqueFunction<void()>&& fn);
    void submit_to_executor(UniqueFunction<void()>&& job);
    /// The user's default executor (set_default_executor), or null for pool_.
    std::shared_ptr<Executor> default_executor_;
    /// shutdown_default_executor() was called: run_in_executor refuses work.
    bool executor_shutdown_ = false;
    /// Its future, returned again by later calls.
    std::optional<Future<void>> executor_shutdown_done_;
    /// Starts joining the default executor on a helper thread (joined by close()); `then` runs
    /// on that thread once the executor's threads are joined.
    void start_executor_shutdown(UniqueFunction<void()>&& then);

    void add_reader(int fd, UniqueFunction<void()>&& fn) { add_watch(readers_, fd, 0x02, std::move(fn)); }
    void add_writer(int fd, UniqueFunction<void()>&& fn) { add_watch(writers_, fd, 0x04, std::move(fn)); }
    bool remove_reader(int fd) { return remove_watch(readers_, fd); }
    bool remove_writer(int fd) { return remove_watch(writers_, fd); }
    void add_signal_handler(int signum, UniqueFunction<void()>&& fn);
    bool remove_signal_handler(int signum) { return remove_watch(signals_, signum); }

    using ExceptionHandler = UniqueFunction<void(EventLoop&, const ExceptionContext&)>;
    void set_exception_handler(ExceptionHandler&& h) {
        handler_ = h ? std::make_shared<ExceptionHandler>(std::move(h)) : nullptr;
    }
    void call_exception_handler(const ExceptionContext& context) noexcept;
    std::shared_ptr<ExceptionHandler> exception_handler() const { return handler_; }
    bool debug_ = false;
    std::int64_t slow_callback_ns_ = 100'000'000;

    /// Loop-thread-only entry points call this: in debug mode (and always in builds with
    /// BULB_THREAD_CHECKS: debug and sanitizer builds) a call from another thread while the loop
    /// runs throws InvalidStateError naming `what` (asyncio's debug-mode _check_thread).
    void check_thread(const char* what) const {
#if BULB_THREAD_CHECKS
        constexpr bool always = true;
#else
        constexpr bool always = false;
#endif
        if (always || debug_) check_thread_slow(what);
    }

    /// Open transports, and servers (with connects in progress), ended by close(): servers and
    /// connects first, then transports.
    ResourceList transports_;
    ResourceList servers_;
    /// The loop-wide read buffer transports receive into before data_received().
    std::byte* read_buffer(std::size_t& size);

    /// libevent callback of watcher events: queues the watcher's node on the ready queue.
    static void dispatch_watch(int, short, void* arg) noexcept;

    /// One of the loop's timers was cancelled: counted so far timers are purged when mostly dead.
    void timer_cancelled(const ScheduledCallback* node) noexcept { timers_.cancelled(node); }

private:
    struct Watch {
        event* ev;
        ScheduledCallback* node;
    };
    using WatchMap = std::unordered_map<int, Watch>;

    void check_open(const char* what) const;
    void check_thread_slow(const char* what) const;
    void run_once();
    void poll(std::int64_t timeout_ns);
    void run_node(ScheduledCallback* node) noexcept;
    void drain_threadsafe() noexcept;
    void add_watch(WatchMap& map, int key, short what, UniqueFunction<void()>&& fn);
    bool remove_watch(WatchMap& map, int key);
    void drop_watch(Watch w) noexcept;
    void drop_everything() noexcept;
    void close_resources();

    EventLoop& owner_;
    event_base* base_ = nullptr;

public:
    /// EventLoop::extension's instances, in creation order (destroyed newest first by
    /// destroy_extensions(), which ~EventLoop calls after closing).
    std::vector<std::pair<const std::type_info*, std::unique_ptr<LoopExtension>>> extensions_;
    void destroy_extensions() noexcept {
        while (!extensions_.empty()) {
            auto last = std::move(extensions_.back().second);
            extensions_.pop_back();
            last.reset();
        }
    }

private:
    event* timer_ev_ = nullptr;
    event* wake_ev_ = nullptr;
    int wake_fd_ = -1;

    RingQueue<ScheduledCallback*> ready_;
    TimerQueue timers_;

    bool virtual_clock_;
    std::int64_t virtual_now_ = 0;
    bool running_ = false;
    std::atomic<std::thread::id> thread_{};  // the thread running the loop; default id when not running
    bool stopping_ = false;
    bool closed_ = false;

    std::mutex ts_mutex_;
    std::vector<UniqueFunction<void()>> ts_queue_;
    bool ts_closed_ = false;

    WatchMap readers_, writers_, signals_;
    ThreadPool pool_;
    std::thread executor_joiner_;  // shutdown_default_executor's helper thread
    std::unique_ptr<std::byte[]> read_buffer_;
    std::shared_ptr<ExceptionHandler> handler_;  // shared: call_exception_handler holds it while calling
};

}  // namespace bulb::detail
