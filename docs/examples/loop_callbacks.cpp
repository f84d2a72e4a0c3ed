// The event loop, callbacks and timers: call_soon runs next, call_later after a delay, and a
// Future carries one result back to run_until_complete.
#include <bulb/bulb.hpp>

#include <chrono>
#include <cstdio>

int main() {
    using namespace std::chrono_literals;
    bulb::EventLoop loop;
    bulb::Future<int> answer(loop);

    loop.call_soon([] { std::puts("call_soon: runs first"); });
    loop.call_later(20ms, [&] {
        std::puts("call_later(20ms): sets the result");
        answer.set_result(42);
    });
    bulb::TimerHandle never = loop.call_later(1s, [] { std::puts("never printed"); });
    never.cancel();  // a cancelled timer does not run

    const int result = loop.run_until_complete(answer);
    std::printf("result: %d\n", result);
    loop.close();
    return result == 42 ? 0 : 1;
}
