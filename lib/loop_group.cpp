// SPDX-License-Identifier: MIT
/// @file
/// LoopGroup: the loop threads, the group's exception handler and signals, and the batched
/// cross-loop mailboxes.
///
/// Batching: a group loop sending to another appends to its own outbox for that target (loop
/// thread only, no lock) and, on the first message of an iteration, schedules one flush with
/// call_soon. The flush hands each non-empty outbox to its target with one call_soon_threadsafe
/// (one lock; the target's eventfd is written only when its queue was empty), so N messages sent
/// in one iteration cost one wake-up at most per target.
#include <bulb/loop_group.hpp>

#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <thread>

namespace bulb {
namespace {

/// The group and loop index of the calling thread (set by the loop threads).
thread_local const LoopGroup* current_group = nullptr;
thread_local std::size_t current_group_index = LoopGroup::npos;

/// The signals whose bits are set in `bits` (bit s-1: signal s).
sigset_t signal_set(std::uint64_t bits) {
    sigset_t set;
    sigemptyset(&set);
    for (int s = 1; s <= 64; ++s)
        if (bits & (std::uint64_t{1} << (s - 1))) sigaddset(&set, s);
    return set;
}

/// The usable CPUs, in order.
std::vector<int> usable_cpu_list() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}

}  // namespace

/// What one loop of the group keeps for sending (its own thread only), and counters read from
/// anywhere.
struct LoopGroup::Member {
    std::vector<std::vector<UniqueFunction<void()>>> outbox;  // per target loop
    bool flush_scheduled = false;
    alignas(64) std::atomic<std::uint64_t> messages{0};  // one writer (this loop), relaxed
    std::atomic<std::uint64_t> batches{0};
};

LoopGroup::LoopGroup() : LoopGroup(LoopGroupOptions{}) {}

LoopGroup::LoopGroup(const LoopGroupOptions& options) : pin_threads_(options.pin_threads) {
    const std::size_t n = options.loops ? options.loops : usable_cpus();
    loops_.reserve(n);
    members_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        loops_.push_back(std::make_unique<EventLoop>(options.loop));
        members_.push_back(std::make_unique<Member>());
        members_.back()->outbox.resize(n);
        // Every loop reports through the group's handler, with its index.
        loops_[i]->set_exception_handler([this, i](EventLoop& l, const ExceptionContext& c) {
            if (handler_) {
                (*handler_)(i, l, c);
                return;
            }
            ExceptionContext tagged = c;
            tagged.message = "loop " + std::to_string(i) + ": " + c.message;
            l.default_exception_handler(tagged);
        });
    }
}

LoopGroup::~LoopGroup() {
    try {
        close();
    } catch (...) {
        // close() throws only when called from a group thread: a group destroyed by its own loop
        // is a bug that cannot be repaired here.
        std::fputs("bulb: LoopGroup destroyed from one of its own loop threads\n", stderr);
        std::terminate();
    }
}

std::size_t LoopGroup::usable_cpus() noexcept {
    try {
        std::size_t n = usable_cpu_list().size();
        return n ? n : 1;
    } catch (...) {
        return 1;
    }
}

EventLoop& LoopGroup::loop(std::size_t index) {
    if (index >= loops_.size())
        throw std::out_of_range("LoopGroup::loop: index " + std::to_string(index) + " of a group of " +
                                std::to_string(loops_.size()));
    return *loops_[index];
}

std::size_t LoopGroup::current_index() const noexcept { return current_group == this ? current_group_index : npos; }

void LoopGroup::set_exception_handler(GroupExceptionHandler handler) {
    if (is_running()) throw InvalidStateError("LoopGroup::set_exception_handler: the group is running");
    handler_ = handler ? std::make_shared<GroupExceptionHandler>(std::move(handler)) : nullptr;
}

void LoopGroup::add_signal_handler(int signum, UniqueFunction<void()> fn) {
    // One loop handles it: a process-wide signal would otherwise wake whichever loop libevent
    // registered last, and run the handler once per loop.
    if (is_running() && current_index() != 0)
        throw InvalidStateError("LoopGroup::add_signal_handler: call it before start() or on loop 0");
    loop(0).add_signal_handler(signum, std::move(fn));
    if (signum >= 1 && signum <= 64) group_signals_.fetch_or(std::uint64_t{1} << (signum - 1));
}

LoopGroup::SignalsToLoop0::SignalsToLoop0(const LoopGroup& group) noexcept : blocked_(0) {
    const std::uint64_t wanted = group.group_signals_.load();
    if (!wanted) return;
    sigset_t old;
    const sigset_t add = signal_set(wanted);
    if (pthread_sigmask(SIG_BLOCK, &add, &old) != 0) return;
    for (int s = 1; s <= 64; ++s)
        if ((wanted & (std::uint64_t{1} << (s - 1))) && sigismember(&old, s) == 0)
            blocked_ |= std::uint64_t{1} << (s - 1);
}

LoopGroup::SignalsToLoop0::~SignalsToLoop0() {
    if (!blocked_) return;
    const sigset_t set = signal_set(blocked_);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);  // one that came meanwhile is handled now
}

void LoopGroup::check_blocking_allowed(const char* what) const {
    if (current_group == this)
        throw InvalidStateError(std::string("LoopGroup::") + what + ": called from loop " +
                                std::to_string(current_group_index) + " of the same group (it would wait on itself)");
}

void LoopGroup::start() {
    check_blocking_allowed("start");
    if (closed_) throw InvalidStateError("LoopGroup::start: the group is closed");
    if (is_running()) throw InvalidStateError("LoopGroup::start: the group is already running");
    started_.store(true, std::memory_order_release);
    threads_.reserve(loops_.size());
    try {
        for (std::size_t i = 0; i < loops_.size(); ++i) threads_.emplace_back([this, i] { thread_main(i); });
    } catch (...) {
        stop();
        join();
        throw;
    }
}

void LoopGroup::thread_main(std::size_t index) noexcept {
    if (pin_threads_) {
        std::vector<int> cpus;
        try {
            cpus = usable_cpu_list();
        } catch (...) {
        }
        if (!cpus.empty()) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpus[index % cpus.size()], &set);
            if (int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set); err != 0)
                loops_[index]->call_exception_handler(
                    {"LoopGroup: pinning the thread failed: " + std::error_code(err, std::system_category()).message()});
        }
    }
    if (index != 0) {  // the group's signals go to loop 0, which handles them
        const sigset_t set = signal_set(group_signals_.load());
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
    }
    current_group = this;
    current_group_index = index;
    try {
        loops_[index]->run_forever();
    } catch (...) {
        loops_[index]->call_exception_handler({"LoopGroup: run_forever failed", std::current_exception()});
    }
    current_group = nullptr;
    current_group_index = npos;
}

void LoopGroup::stop() noexcept {
    for (auto& l : loops_) {
        try {
            l->call_soon_threadsafe([loop = l.get()] { loop->stop(); });
        } catch (...) {  // closed: nothing runs it
        }
    }
}

void LoopGroup::join() {
    check_blocking_allowed("join");
    SignalsToLoop0 steer(*this);
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    started_.store(false, std::memory_order_release);
}

void LoopGroup::run() {
    start();
    join();
}

void LoopGroup::close() {
    check_blocking_allowed("close");
    if (closed_) return;
    stop();
    join();
    closed_ = true;
    // From here this thread owns every loop: dropped call_on replies complete their futures here.
    closer_.store(std::this_thread::get_id(), std::memory_order_release);
    // On this thread, one after the other: the loop threads are joined, so nothing else touches
    // the loops' (non-atomic) counts while closing destroys undelivered messages.
    for (auto& m : members_)
        for (auto& box : m->outbox) box.clear();
    for (auto& l : loops_) l->close();
}

void LoopGroup::post(std::size_t index, UniqueFunction<void()> fn) {
    EventLoop& target = loop(index);
    const std::size_t source = current_index();
    if (source == npos) {
        target.call_soon_threadsafe(std::move(fn));
        return;
    }
    if (source == index) {
        target.call_soon(std::move(fn));
        return;
    }
    Member& m = *members_[source];
    m.outbox[index].push_back(std::move(fn));
    if (!m.flush_scheduled) {
        loops_[source]->call_soon([this, source] { flush(source); });
        m.flush_scheduled = true;
    }
}

void LoopGroup::reply(EventLoop* home, std::size_t home_index, UniqueFunction<void()> fn) {
    if (home_index != npos)
        post(home_index, std::move(fn));
    else
        home->call_soon_threadsafe(std::move(fn));
}

std::exception_ptr LoopGroup::undelivered_error(const char* what, std::size_t target, bool started) noexcept {
    try {
        const std::string loop = "loop " + std::to_string(target);
        throw Error(errc::loop_closed, std::string("LoopGroup::") + what + ": " +
                                           (started ? "the future its function returned on " + loop +
                                                          " was dropped unfinished (its loop closed?)"
                                                    : loop + " closed before the message ran"));
    } catch (...) {
        return std::current_exception();
    }
}

void LoopGroup::fail_undelivered(std::size_t target, bool started, EventLoop* home, std::size_t home_index,
                                 UniqueFunction<void(std::exception_ptr)> fail) noexcept {
    try {
        std::exception_ptr error = undelivered_error("call_on", target, started);
        if (home_index != npos && closer_.load(std::memory_order_acquire) == std::this_thread::get_id()) {
            fail(std::move(error));  // its done callbacks are scheduled on the (stopped) home loop
            return;
        }
        reply(home, home_index, [fail = std::move(fail), error = std::move(error)]() mutable { fail(std::move(error)); });
    } catch (...) {
        // The home loop is closed too (its call_soon threw): nothing can wait on its futures.
    }
}

void LoopGroup::flush(std::size_t source) noexcept {
    Member& m = *members_[source];
    m.flush_scheduled = false;
    for (std::size_t t = 0; t < m.outbox.size(); ++t) {
        if (m.outbox[t].empty()) continue;
        auto batch = std::move(m.outbox[t]);
        m.outbox[t].clear();
        const std::size_t count = batch.size();
        EventLoop* target = loops_[t].get();
        try {
            target->call_soon_threadsafe([batch = std::move(batch), target]() mutable {
                // Each message on its own: one that throws goes to the handler, the rest still run.
                for (auto& fn : batch) {
                    try {
                        fn();
                    } catch (...) {
                        target->call_exception_handler({"Exception in a cross-loop message", std::current_exception()});
                    }
                    fn.reset();  // captures go now, on this loop
                }
            });
        } catch (...) {
            loops_[source]->call_exception_handler({"LoopGroup: " + std::to_string(count) +
                                                        " cross-loop message(s) to loop " + std::to_string(t) +
                                                        " dropped",
                                                    std::current_exception()});
            continue;
        }
        m.messages.store(m.messages.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
        m.batches.store(m.batches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
}

std::uint64_t LoopGroup::messages_batched() const noexcept {
    std::uint64_t n = 0;
    for (auto& m : members_) n += m->messages.load(std::memory_order_relaxed);
    return n;
}

std::uint64_t LoopGroup::batches_sent() const noexcept {
    std::uint64_t n = 0;
    for (auto& m : members_) n += m->batches.load(std::memory_order_relaxed);
    return n;
}

}  // namespace bulb
