// SPDX-License-Identifier: MIT
/// @file
/// EventLoop: the public face, forwarding to LoopImpl.
#include <bulb/loop.hpp>
#include <bulb/transport.hpp>

#include "loop/loop_impl.hpp"

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <unordered_set>

namespace bulb {
namespace detail {

EventLoop* running_loop_of_thread() noexcept;

bool loop_is_alive(const EventLoop* loop) noexcept;

namespace {
// Loops alive in the process: lets a future destroyed late report to its loop only if it lives.
std::mutex live_mutex;
std::unordered_set<const EventLoop*>& live_loops() {
    static std::unordered_set<const EventLoop*> loops;
    return loops;
}
}  // namespace

bool loop_is_alive(const EventLoop* loop) noexcept {
    std::lock_guard lock(live_mutex);
    return live_loops().count(loop) != 0;
}

void report_unretrieved(EventLoop* loop, const std::exception_ptr& e) noexcept {
    if (!loop_is_alive(loop)) return;
    loop->call_exception_handler({"Future exception was never retrieved", e});
}

}  // namespace detail

LoopExtension::~LoopExtension() = default;

EventLoop::EventLoop() : EventLoop(LoopOptions{}) {}

EventLoop::EventLoop(const LoopOptions& options) : impl_(std::make_unique<detail::LoopImpl>(*this, options)) {
    std::lock_guard lock(detail::live_mutex);
    detail::live_loops().insert(this);
}

EventLoop::~EventLoop() {
    // Close while impl_ is still set: closing destroys pending callbacks, and a future dying
    // with them reports "never retrieved" through this loop (impl_ is null inside reset()).
    impl_->close_for_destruction();
    {
        std::lock_guard lock(detail::live_mutex);
        detail::live_loops().erase(this);  // from here on, late reports are dropped
    }
    impl_->destroy_extensions();  // after closing: what closing destroyed may still have used them
    impl_.reset();
}

EventLoop* EventLoop::current() noexcept { return detail::running_loop_of_thread(); }

EventLoop& get_running_loop() {
    if (EventLoop* loop = EventLoop::current()) return *loop;
    throw InvalidStateError("no running event loop");
}

void EventLoop::run_forever() { impl_->run_forever(); }
void EventLoop::stop() noexcept { impl_->stop(); }
bool EventLoop::is_running() const noexcept { return impl_->is_running(); }
void EventLoop::close() {
    impl_->check_thread("close");
    impl_->close();
}
bool EventLoop::is_closed() const noexcept { return impl_->is_closed(); }

TimePoint EventLoop::time() const noexcept { return TimePoint(std::chrono::nanoseconds(impl_->now_ns())); }

Handle EventLoop::call_soon(UniqueFunction<void()> fn) {
    impl_->check_thread("call_soon");
    detail::ScheduledCallback* node = impl_->call_soon(std::move(fn));
    node->add_ref();  // the handle's reference
    return Handle(node, Handle::adopt_t{});
}

TimerHandle EventLoop::call_later(Duration delay, UniqueFunction<void()> fn) {
    impl_->check_thread("call_later");
    // Saturating: call_later(Duration::max()) means "never", not a deadline wrapped into the past.
    std::int64_t when;
    if (__builtin_add_overflow(impl_->now_ns(), std::chrono::nanoseconds(delay).count(), &when))
        when = delay > Duration::zero() ? INT64_MAX : INT64_MIN;
    detail::ScheduledCallback* node = impl_->call_at(when, std::move(fn));
    node->add_ref();  // the handle's reference
    return TimerHandle(node, Handle::adopt_t{});
}

TimerHandle EventLoop::call_at(TimePoint when, UniqueFunction<void()> fn) {
    impl_->check_thread("call_at");
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
    detail::ScheduledCallback* node = impl_->call_at(ns, std::move(fn));
    node->add_ref();  // the handle's reference
    return TimerHandle(node, Handle::adopt_t{});
}

ThreadsafeHandle EventLoop::call_soon_threadsafe(UniqueFunction<void()> fn) {
    auto state = std::make_shared<detail::ThreadsafeCallbackState>();
    // The flag is read on the loop thread just before the call: a cancel() that lost the race
    // with the start changes nothing (asyncio's Handle.cancel on a running callback neither).
    impl_->call_soon_threadsafe([state, fn = std::move(fn)]() mutable {
        if (!state->cancelled.load(std::memory_order_acquire)) fn();
    });
    return ThreadsafeHandle(std::move(state));
}
void EventLoop::submit_to_executor(UniqueFunction<void()> job) {
    impl_->check_thread("run_in_executor");
    impl_->submit_to_executor(std::move(job));
}

void EventLoop::add_reader(int fd, UniqueFunction<void()> fn) {
    impl_->check_thread("add_reader");
    impl_->add_reader(fd, std::move(fn));
}
bool EventLoop::remove_reader(int fd) {
    impl_->check_thread("remove_reader");
    return impl_->remove_reader(fd);
}
void EventLoop::add_writer(int fd, UniqueFunction<void()> fn) {
    impl_->check_thread("add_writer");
    impl_->add_writer(fd, std::move(fn));
}
bool EventLoop::remove_writer(int fd) {
    impl_->check_thread("remove_writer");
    return impl_->remove_writer(fd);
}
void EventLoop::add_signal_handler(int signum, UniqueFunction<void()> fn) {
    impl_->check_thread("add_signal_handler");
    impl_->add_signal_handler(signum, std::move(fn));
}
bool EventLoop::remove_signal_handler(int signum) {
    impl_->check_thread("remove_signal_handler");
    return impl_->remove_signal_handler(signum);
}

void EventLoop::set_exception_handler(UniqueFunction<void(EventLoop&, const ExceptionContext&)> handler) {
    impl_->check_thread("set_exception_handler");
    impl_->set_exception_handler(std::move(handler));
}
std::shared_ptr<EventLoop::ExceptionHandler> EventLoop::get_exception_handler() const {
    impl_->check_thread("get_exception_handler");
    return impl_->exception_handler();
}
void EventLoop::call_exception_handler(const ExceptionContext& context) noexcept {
    impl_->call_exception_handler(context);
}
void EventLoop::default_exception_handler(const ExceptionContext& context) noexcept {
    std::fprintf(stderr, "bulb: %s\n", context.message.c_str());
    if (context.exception)
        std::fprintf(stderr, "  exception: %s\n", describe_exception(context.exception).c_str());
    if (context.transport) {
        try {
            std::fprintf(stderr, "  transport: %s\n", context.transport->describe().c_str());
        } catch (...) {
            std::fprintf(stderr, "  transport: <%s>\n", context.transport->kind());
        }
    }
}
LoopExtension* EventLoop::find_extension(const std::type_info& key) const noexcept {
    for (auto& [k, ext] : impl_->extensions_)
        if (*k == key) return ext.get();
    return nullptr;
}

LoopExtension& EventLoop::add_extension(const std::type_info& key, std::unique_ptr<LoopExtension> ext) {
    impl_->check_thread("add_extension");
    if (!ext) throw std::invalid_argument("add_extension: null extension");
    if (find_extension(key)) throw std::invalid_argument(std::string("add_extension: already set: ") + key.name());
    impl_->extensions_.emplace_back(&key, std::move(ext));
    return *impl_->extensions_.back().second;
}

void EventLoop::set_debug(bool enabled) noexcept { impl_->debug_ = enabled; }
bool EventLoop::get_debug() const noexcept { return impl_->debug_; }
void EventLoop::set_slow_callback_duration(Duration d) noexcept {
    impl_->slow_callback_ns_ = std::chrono::nanoseconds(d).count();
}

}  // namespace bulb
