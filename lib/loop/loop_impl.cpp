// SPDX-License-Identifier: MIT
/// @file
/// LoopImpl: one iteration, timers, wake-ups, watchers, teardown.
#include "loop/loop_impl.hpp"

#include <event2/event.h>

#include <fcntl.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <thread>
#include <utility>

#include <sys/eventfd.h>
#include <unistd.h>

namespace bulb::detail {
namespace {

constinit thread_local EventLoop* running_loop __attribute__((tls_model("initial-exec"))) = nullptr;

std::int64_t monotonic_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::size_t default_pool_size() {
    std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    return std::min<std::size_t>(32, cores + 4);
}

void ignore_sigpipe_once() {
    static const bool done = [] {
        struct sigaction old {};
        if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
        return true;
    }();
    (void)done;
}

}  // namespace

EventLoop* running_loop_of_thread() noexcept { return running_loop; }

LoopImpl::LoopImpl(EventLoop& owner, const LoopOptions& options)
    : owner_(owner),
      virtual_clock_(options.virtual_clock),
      pool_(options.executor_threads ? options.executor_threads : default_pool_size()) {
    ignore_sigpipe_once();
    event_config* cfg = event_config_new();
    if (!cfg) throw std::bad_alloc();
    // No EVENT_BASE_FLAG_PRECISE_TIMER: with it, epoll adds a timerfd_settime() syscall to every
    // poll (even non-blocking ones), and dense timers wake the loop every few microseconds. Without
    // it the poll timeout is whole milliseconds, rounded up, as in asyncio and libuv: timers never
    // fire early, at most ~1 ms late, and due ones are run in batches.
    base_ = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base_) throw Error(std::make_error_code(std::errc::not_enough_memory), "bulb: event_base_new failed");
    if (virtual_clock_) virtual_now_ = monotonic_ns();

    timer_ev_ = evtimer_new(base_, [](int, short, void*) {}, nullptr);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0 || !timer_ev_) {
        drop_everything();
        throw Error(errno, std::system_category(), "bulb: loop wake-up setup failed");
    }
    // The wake-up event stays registered: it keeps the base non-empty, so EVLOOP_ONCE blocks.
    wake_ev_ = event_new(
        base_, wake_fd_, EV_READ | EV_PERSIST,
        [](int fd, short, void* arg) {
            std::uint64_t n;
            [[maybe_unused]] auto r = ::read(fd, &n, sizeof n);  // reset before draining
            static_cast<LoopImpl*>(arg)->drain_threadsafe();
        },
        this);
    event_add(wake_ev_, nullptr);
}

LoopImpl::~LoopImpl() {
    close_for_destruction();
    if (executor_joiner_.joinable()) executor_joiner_.join();  // a close() that failed left it
}

void LoopImpl::close_for_destruction() {
    // Runs in destructors: never throws. A close that fails (e.g. another loop runs on this
    // thread, so this one cannot run its transports' last callbacks) is reported, then
    // everything is dropped.
    if (!closed_) {
        running_ = false;
        try {
            close();
        } catch (...) {
            call_exception_handler({"closing the event loop failed", std::current_exception()});
            {
                std::lock_guard lock(ts_mutex_);
                ts_closed_ = true;
            }
            drop_everything();
            closed_ = true;
        }
    }
}

std::int64_t LoopImpl::now_ns() const noexcept { return virtual_clock_ ? virtual_now_ : monotonic_ns(); }

void LoopImpl::check_thread_slow(const char* what) const {
    const std::thread::id owner = thread_.load(std::memory_order_relaxed);
    if (owner == std::thread::id() || owner == std::this_thread::get_id()) return;
    throw InvalidStateError(std::string(what) +
                            ": Non-thread-safe operation invoked on an event loop other than the current one "
                            "(called from another thread while the loop runs; use call_soon_threadsafe)");
}

void LoopImpl::check_open(const char* what) const {
    if (closed_) throw InvalidStateError(std::string(what) + ": Event loop is closed");
}

ScheduledCallback* LoopImpl::call_soon(UniqueFunction<void()>&& fn) {
    check_open("call_soon");
    ScheduledCallback* node = alloc_node(std::move(fn));
    ready_.push_back(node);  // the queue's reference is the node's initial one
    return node;
}

ScheduledCallback* LoopImpl::call_at(std::int64_t when_ns, UniqueFunction<void()>&& fn) {
    check_open("call_at");
    ScheduledCallback* node = alloc_node(std::move(fn));
    node->when = when_ns;
    node->loop = this;
    if (timers_.empty()) timers_.rebase(now_ns());
    timers_.push(node, when_ns);
    return node;
}

void LoopImpl::call_soon_threadsafe(UniqueFunction<void()>&& fn) {
    std::lock_guard lock(ts_mutex_);
    if (ts_closed_) throw InvalidStateError("call_soon_threadsafe: Event loop is closed");
    const bool wake = ts_queue_.empty();
    ts_queue_.push_back(std::move(fn));
    // Written under the lock: close() sets ts_closed_ under it before closing wake_fd_, so the
    // descriptor is never written after it was closed (and maybe reused by another open).
    if (wake) {
        std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
    }
}

void LoopImpl::drain_threadsafe() noexcept {
    std::vector<UniqueFunction<void()>> batch;
    {
        std::lock_guard lock(ts_mutex_);
        batch.swap(ts_queue_);
    }
    for (auto& fn : batch) ready_.push_back(alloc_node(std::move(fn)));
}

void LoopImpl::submit_to_executor(UniqueFunction<void()>&& job) {
    check_open("run_in_executor");
    if (executor_shutdown_) throw InvalidStateError("run_in_executor: Executor shutdown has been called");
    if (default_executor_)
        default_executor_->submit(std::move(job));
    else
        pool_.submit(std::move(job));
}

void LoopImpl::start_executor_shutdown(UniqueFunction<void()>&& then) {
    executor_shutdown_ = true;
    executor_joiner_ = std::thread([this, user = default_executor_, then = std::move(then)]() mutable {
        if (user)
            user->shutdown(true);
        else
            pool_.shutdown();
        then();
    });
}

void LoopImpl::run_forever() {
    check_open("run_forever");
    if (running_) throw InvalidStateError("run_forever: This event loop is already running");
    if (running_loop) throw InvalidStateError("run_forever: another loop is running in this thread");
    running_ = true;
    running_loop = &owner_;
    thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    struct Reset {
        LoopImpl* self;
        ~Reset() {
            self->thread_.store(std::thread::id(), std::memory_order_relaxed);
            self->stopping_ = false;
            self->running_ = false;
            running_loop = nullptr;
        }
    } reset{this};
    for (;;) {
        run_once();
        if (stopping_) break;
    }
}

void LoopImpl::run_once() {
    timers_.purge_if_mostly_cancelled();
    const std::optional<std::int64_t> next = timers_.next_deadline();

    std::int64_t timeout = -1;  // block until I/O (or a thread-safe wake-up)
    if (!ready_.empty() || stopping_ || (virtual_clock_ && next))
        timeout = 0;  // a virtual clock jumps to the next deadline instead of sleeping
    else if (next) {
        const std::int64_t now = now_ns();
        timeout = *next > now ? *next - now : 0;  // no overflow for deadlines far in the past
    }
    poll(timeout);

    if (virtual_clock_ && ready_.empty() && next) virtual_now_ = std::max(virtual_now_, *next);

    // A due timer's reference moves to the ready queue.
    timers_.take_due(now_ns(), [this](ScheduledCallback* node) { ready_.push_back(node); });

    // Only what was ready now: callbacks scheduled by these run next iteration.
    for (std::size_t n = ready_.size(); n > 0; --n) {
        ScheduledCallback* node = ready_.pop_front();
        if (node->cancelled)
            node->release_ref();
        else
            run_node(node);
    }
}

void LoopImpl::poll(std::int64_t timeout_ns) {
    if (timeout_ns == 0) {
        event_base_loop(base_, EVLOOP_NONBLOCK | EVLOOP_ONCE);  // NONBLOCK alone loops while fds stay ready
        return;
    }
    if (timeout_ns > 0) {
        timeval tv{static_cast<time_t>(timeout_ns / 1'000'000'000),
                   static_cast<suseconds_t>((timeout_ns % 1'000'000'000 + 999) / 1000)};
        event_add(timer_ev_, &tv);
    } else {
        event_del(timer_ev_);
    }
    event_base_loop(base_, EVLOOP_ONCE);
}

void LoopImpl::run_node(ScheduledCallback* node) noexcept {
    BULB_ASSERT(!node->running && "a callback never runs inside itself");
    node->running = true;
    const std::int64_t start = debug_ ? monotonic_ns() : 0;
    try {
        node->fn();
    } catch (...) {
        call_exception_handler({"Exception in callback", std::current_exception()});
    }
    node->running = false;
    if (!node->persistent || node->cancelled) node->fn.reset();
    if (debug_) {
        std::int64_t took = monotonic_ns() - start;
        if (took >= slow_callback_ns_) {
            char msg[96];
            std::snprintf(msg, sizeof msg, "Executing callback took %.3f seconds", took / 1e9);
            call_exception_handler({msg, nullptr});
        }
    }
    node->release_ref();
}

void LoopImpl::dispatch_watch(int, short, void* arg) noexcept {
    auto* node = static_cast<ScheduledCallback*>(arg);
    if (node->cancelled) return;
    node->add_ref();
    node->loop->ready_.push_back(node);
}

void LoopImpl::add_watch(WatchMap& map, int key, short what, UniqueFunction<void()>&& fn) {
    check_open("add watcher");
    ScheduledCallback* node = alloc_node(std::move(fn));
    node->persistent = true;
    node->loop = this;  // dispatch_watch finds the loop here; watchers are never among the timers
    errno = 0;
    event* ev = event_new(base_, key, what | EV_PERSIST, &LoopImpl::dispatch_watch, node);
    if (!ev || event_add(ev, nullptr) != 0) {
        int err = errno ? errno : EINVAL;
        if (ev) event_free(ev);
        node->loop = nullptr;
        node->release_ref();
        const bool signal = what & EV_SIGNAL;
        // libevent may leave another errno behind: a descriptor that is not open says EBADF.
        if (!signal && ::fcntl(key, F_GETFD) < 0) err = EBADF;
        throw Error(err, std::system_category(),
                    signal ? "add_signal_handler(" + std::to_string(key) + "): cannot install the handler"
                           : std::string(what & EV_READ ? "add_reader" : "add_writer") + "(fd " + std::to_string(key) +
                                 "): cannot watch the descriptor");
    }
    // Replacing installs the new watch before dropping the old one (asyncio cancels the old
    // handle): a callback replacing itself keeps its captures until it returns, and a signal
    // never falls back to its default disposition in between.
    auto [it, inserted] = map.try_emplace(key, Watch{ev, node});
    if (!inserted) drop_watch(std::exchange(it->second, Watch{ev, node}));
}

void LoopImpl::drop_watch(Watch w) noexcept {
    event_free(w.ev);  // deletes the event first
    w.node->loop = nullptr;
    cancel_node(w.node);  // a running callback is reset by run_node once it returns
    w.node->release_ref();
}

bool LoopImpl::remove_watch(WatchMap& map, int key) {
    auto it = map.find(key);
    if (it == map.end()) return false;
    Watch w = it->second;
    map.erase(it);
    drop_watch(w);
    return true;
}

void LoopImpl::add_signal_handler(int signum, UniqueFunction<void()>&& fn) {
    if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP)
        throw std::invalid_argument("add_signal_handler: invalid signal number " + std::to_string(signum));
    add_watch(signals_, signum, EV_SIGNAL, std::move(fn));
}

void LoopImpl::call_exception_handler(const ExceptionContext& context) noexcept {
    if (!handler_) {
        owner_.default_exception_handler(context);
        return;
    }
    // A local reference keeps the handler alive should it replace itself while it runs.
    std::shared_ptr<ExceptionHandler> handler = handler_;
    try {
        (*handler)(owner_, context);
    } catch (...) {
        owner_.default_exception_handler({"Unhandled error in exception handler", std::current_exception()});
        owner_.default_exception_handler(context);
    }
}

std::byte* LoopImpl::read_buffer(std::size_t& size) {
    static constexpr std::size_t read_buffer_size = 256 * 1024;  // asyncio's max_size
    if (!read_buffer_) read_buffer_.reset(new std::byte[read_buffer_size]);
    size = read_buffer_size;
    return read_buffer_.get();
}

void LoopImpl::close_resources() {
    // Servers and connects in progress first (no new connections), then abort what is still open
    // and deliver every connection_lost before returning. Those callbacks may open more (a client
    // reconnecting from connection_lost): repeat until nothing is left.
    // A loop closed (or destroyed) inside another loop's callback still runs itself for this:
    // the other loop is set aside on this thread meanwhile, so closing never throws for it.
    struct SetAside {
        EventLoop* outer = running_loop;
        SetAside() { running_loop = nullptr; }
        ~SetAside() { running_loop = outer; }
    } set_aside;
    for (int rounds = 0; rounds < 100; ++rounds) {
        while (!servers_.empty()) servers_.front()->close_for_loop();
        if (transports_.empty()) return;
        for (LoopResource* r = transports_.front(); r; r = ResourceList::next(r)) r->close_for_loop();
        stopping_ = true;
        run_forever();
    }
}

void LoopImpl::close() {
    if (running_) throw InvalidStateError("close: Cannot close a running event loop");
    if (closed_) return;
    close_resources();
    // A shutdown_default_executor() still joining finishes first: pool_.shutdown() called again
    // meanwhile would return before the threads are joined.
    if (executor_joiner_.joinable()) executor_joiner_.join();
    if (default_executor_) default_executor_->shutdown(false);  // asyncio: shutdown(wait=False)
    pool_.shutdown();  // queued jobs finish; their results land in the thread-safe queue
    {
        std::lock_guard lock(ts_mutex_);
        ts_closed_ = true;
    }
    drop_everything();
    closed_ = true;
}

void LoopImpl::drop_everything() noexcept {
    for (WatchMap* map : {&readers_, &writers_, &signals_})
        while (!map->empty()) remove_watch(*map, map->begin()->first);
    // Destroying callbacks may schedule more (a future finishing in a destructor): drain to empty.
    for (;;) {
        std::vector<UniqueFunction<void()>> pending;
        {
            std::lock_guard lock(ts_mutex_);
            pending.swap(ts_queue_);
        }
        if (ready_.empty() && timers_.empty() && pending.empty()) break;
        pending.clear();
        while (!ready_.empty()) {
            ScheduledCallback* node = ready_.pop_front();
            node->fn.reset();
            node->release_ref();
        }
        timers_.clear([](ScheduledCallback* node) {
            node->fn.reset();
            node->release_ref();
        });
    }
    if (wake_ev_) event_free(wake_ev_);
    if (timer_ev_) event_free(timer_ev_);
    wake_ev_ = timer_ev_ = nullptr;
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
    if (base_) event_base_free(base_);
    base_ = nullptr;
}

}  // namespace bulb::detail
