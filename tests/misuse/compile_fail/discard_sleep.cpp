// expect: nothing happens until it is co_awaited
#include <bulb/coro/sleep.hpp>
#include <bulb/coro/task.hpp>

#include <chrono>

bulb::Task<void> forgetful() {
    using namespace std::chrono_literals;
    bulb::sleep(1s);  // forgotten co_await: a warning, an error with -Werror
    co_return;
}

int main() {}
