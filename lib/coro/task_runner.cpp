// SPDX-License-Identifier: MIT
/// @file
/// TaskRunner: stepping, cancellation and the per-loop list of pending tasks.
#include <bulb/coro/runner.hpp>
#include <bulb/coro/task_factory.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace bulb::detail {
namespace {

// initial-exec: a %fs-relative load instead of a __tls_get_addr call (libbulb is built -fPIC);
// each step of each task reads and writes it.
constinit thread_local TaskRunner* current_runner __attribute__((tls_model("initial-exec"))) = nullptr;

}  // namespace

/// A loop's pending runners (asyncio's all_tasks), kept as the loop's extension (public API: the
/// coroutine layer needs nothing private of the loop). Loop thread only. When the loop goes, the
/// runners still listed forget it: one destroyed later neither unlinks nor reports.
struct RunnerList final : LoopExtension {
    TaskRunner* head = nullptr;
    TaskRunner* tail = nullptr;
    UniqueFunction<void(TaskRef)> factory_hook;  // set_task_factory
    bool eager = false;                          // set_eager_tasks

    explicit RunnerList(EventLoop&) noexcept {}
    ~RunnerList() override {
        for (TaskRunner* r = head; r;) {
            TaskRunner* next = r->next_;
            r->list_ = nullptr;
            r->prev_ = r->next_ = nullptr;
            r = next;
        }
    }
    void push(TaskRunner* r) noexcept {
        r->prev_ = tail;
        r->next_ = nullptr;
        (tail ? tail->next_ : head) = r;
        tail = r;
    }
    void unlink(TaskRunner* r) noexcept {
        (r->prev_ ? r->prev_->next_ : head) = r->next_;
        (r->next_ ? r->next_->prev_ : tail) = r->prev_;
        r->prev_ = r->next_ = nullptr;
    }
};

TaskRunner::TaskRunner(EventLoop& loop) : loop_(&loop), list_(&loop.extension<RunnerList>()) {
    add_ref();  // the creator's
    list_->push(this);
    hooked_ = list_->eager || list_->factory_hook;
}

void TaskRunner::start_hooked(bool eager) {
    if (list_ && list_->factory_hook) {
        try {
            list_->factory_hook(TaskRef(this));
        } catch (...) {
            loop_->call_exception_handler({"Exception in the task factory hook", std::current_exception()});
        }
    }
    if (eager || (list_ && list_->eager))
        step();  // the creator's reference keeps the runner alive through it
    else
        schedule_step();
}

TaskRunner::~TaskRunner() {
    if (!done_ && list_) {  // list_ is null once the loop is gone: nobody to tell
        list_->unlink(this);
        if (loop_->get_debug()) loop_->call_exception_handler({"Task was destroyed but it is pending!", nullptr});
    }
    destroy_root_frame();
}

TaskRunner* TaskRunner::current() noexcept { return current_runner; }

TaskRunner& TaskRunner::require_current(const char* what) {
    if (!current_runner) throw InvalidStateError(std::string(what) + " must be awaited inside a task");
    return *current_runner;
}

void TaskRunner::step() noexcept {
    if (done_ || !resume_point_) return;
    TaskRunner* outer = std::exchange(current_runner, this);
    auto h = std::exchange(resume_point_, {});
    waiter_ = nullptr;
    h.resume();
    current_runner = outer;
}

void TaskRunner::schedule_step() {
    loop_->call_soon([self = RunnerRef(this)] { self->step(); });
}

bool TaskRunner::cancel(std::string message) {
    if (done_) return false;
    RunnerRef keep(this);  // interrupting the wait may drop the last other reference
    ++cancel_requests_;
    if (waiter_ && waiter_->cancel_wait(message)) return true;
    must_cancel_ = true;
    cancel_message_ = std::move(message);
    return true;
}

std::string TaskRunner::get_name() {
    if (!name_) {
        static std::atomic<std::uint64_t> counter{0};
        name_ = std::make_unique<std::string>("Task-" + std::to_string(counter.fetch_add(1) + 1));
    }
    return *name_;
}

void TaskRunner::set_name(std::string name) {
    if (name_)
        *name_ = std::move(name);
    else
        name_ = std::make_unique<std::string>(std::move(name));
}

int TaskRunner::uncancel() noexcept {
    if (cancel_requests_ > 0) --cancel_requests_;
    if (cancel_requests_ == 0) must_cancel_ = false;  // as asyncio 3.13
    return cancel_requests_;
}

void TaskRunner::interrupt_new_wait() noexcept {
    try {
        if (waiter_->cancel_wait(cancel_message_)) {
            must_cancel_ = false;
            cancel_message_.clear();
        }
    } catch (...) {
        // The wait could not be interrupted: must_cancel_ stays, the task throws once woken.
    }
}

void TaskRunner::throw_cancel() {
    must_cancel_ = false;
    throw CancelledError(std::exchange(cancel_message_, {}));
}

void TaskRunner::finish() noexcept {
    BULB_ASSERT(!done_ && "a task finishes once");
    done_ = true;
    if (list_) list_->unlink(this);
    std::exception_ptr error = publish();
    destroy_root_frame();
    if (DoneHook* hook = std::exchange(done_hook_, nullptr)) hook->task_done(*this, hook_tag_, error);
}

void TaskRunner::destroy_root_frame() noexcept {
    if (root_) std::exchange(root_, {}).destroy();
}

std::size_t pending_runners(EventLoop& loop, TaskRunner** out, std::size_t capacity) {
    std::size_t n = 0;
    for (TaskRunner* r = loop.extension<RunnerList>().head; r; r = r->next_, ++n)
        if (n < capacity) out[n] = r;
    return capacity ? std::min(n, capacity) : n;
}

}  // namespace bulb::detail

namespace bulb {

void set_task_factory(EventLoop& loop, UniqueFunction<void(TaskRef)> hook) {
    loop.extension<detail::RunnerList>().factory_hook = std::move(hook);
}

void set_eager_tasks(EventLoop& loop, bool eager) { loop.extension<detail::RunnerList>().eager = eager; }

}  // namespace bulb
