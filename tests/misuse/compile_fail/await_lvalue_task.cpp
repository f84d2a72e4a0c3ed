// expect: write co_await std::move(task)
#include <bulb/coro/task.hpp>

bulb::Task<int> child() { co_return 1; }

bulb::Task<int> parent() {
    bulb::Task<int> t = child();
    int v = co_await t;  // must not compile: the Task has to be moved
    co_return v;
}

int main() {}
