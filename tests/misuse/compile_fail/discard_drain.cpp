// expect: runs only when co_awaited or passed to create_task()
#include <bulb/coro/stream_writer.hpp>

bulb::Task<void> forgetful(bulb::StreamWriter writer) {
    writer.write("x");
    writer.drain();  // forgotten co_await: a warning, an error with -Werror
    co_return;
}

int main() {}
