// Coroutines: tasks, gather, a timeout, cancellation and a TaskGroup (clang++ recommended;
// under g++ 12, name co_await arguments in variables first, as done here).
#include <bulb/coro.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;

bulb::Task<int> square_later(int x, std::chrono::milliseconds delay) {
    co_await bulb::sleep(delay);
    co_return x * x;
}

bulb::Task<> main_task() {
    // gather: run concurrently, results in argument order.
    auto [a, b] = co_await bulb::gather(square_later(3, 20ms), square_later(4, 10ms));
    std::printf("gather: %d %d\n", a, b);

    // A timeout scope: the slow task is cancelled and TimeoutError comes out.
    try {
        bulb::Timeout limit = bulb::timeout(10ms);
        co_await limit.run(square_later(5, 1s));
    } catch (const bulb::TimeoutError&) {
        std::puts("timeout: gave up after 10 ms");
    }

    // Cancelling a task: it sees CancelledError at its next suspension point.
    bulb::Future<int> slow = bulb::create_task(square_later(6, 1s));
    co_await bulb::sleep(1ms);
    slow.cancel();
    try {
        co_await slow;
    } catch (const bulb::CancelledError&) {
        std::puts("cancel: the task was cancelled");
    }

    // TaskGroup: structured concurrency; wait() returns when every child has finished.
    int total = 0;
    {
        bulb::TaskGroup group;
        std::vector<bulb::Future<int>> children;
        for (int i = 1; i <= 3; ++i) children.push_back(group.create_task(square_later(i, 5ms)));
        co_await group.wait();
        for (bulb::Future<int>& child : children) total += child.result();
    }
    std::printf("task group: %d\n", total);
}

int main() { bulb::run(main_task()); }
