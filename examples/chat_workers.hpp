// SPDX-License-Identifier: MIT
/// @file
/// ChatWorkers: chat_server --workers N, one chat room spread over the loops of a LoopGroup.
///
/// Each loop has its own ChatRoom holding the members it serves, touched by that loop only. A
/// line a room broadcasts goes to its own members and, by LoopGroup::post, to every other loop's
/// room (deliver). Posts from one loop to another run in the order they were sent, and a member
/// lives on one loop, so everyone sees each sender's lines in the order it said them. Nicknames
/// are claimed on loop 0, which keeps the list of all of them (unique across loops, /list).
#pragma once

#include "chat_room.hpp"

#include <bulb/loop_group.hpp>
#include <bulb/per_loop.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

class ChatWorkers {
public:
    /// A room per loop of `group` (made here, before the group starts), each greeting with `motd`.
    ChatWorkers(bulb::LoopGroup& group, const std::string& motd)
        : group_(group), rooms_(group, [&](std::size_t) { return ChatRoom(motd); }) {
        for (std::size_t i = 0; i < group.size(); ++i) {
            ChatRoom& room = rooms_.at(i);
            room.where = "loop " + std::to_string(i) + " of " + std::to_string(group.size());
            room.relay = [this, i](const std::string& line) { relay_from(i, line); };
        }
    }
    ChatWorkers(const ChatWorkers&) = delete;
    ChatWorkers& operator=(const ChatWorkers&) = delete;

    /// The calling loop's room.
    ChatRoom& local() { return rooms_.local(); }

    /// Claims `nick` for the calling loop's member: true if no member of any loop has it.
    bulb::Future<bool> claim(std::string nick) {
        return group_.call_on(0, [this, nick = std::move(nick)] {
            if (std::find(nicks_.begin(), nicks_.end(), nick) != nicks_.end()) return false;
            nicks_.push_back(nick);
            return true;
        });
    }
    /// Gives up a claimed `nick` (its member left or took another one).
    void release(std::string nick) {
        group_.post(0, [this, nick = std::move(nick)] { std::erase(nicks_, nick); });
    }
    /// Every claimed nickname, in the order claimed.
    bulb::Future<std::vector<std::string>> names() {
        return group_.call_on(0, [this] { return nicks_; });
    }

private:
    /// A line of loop `from`'s room, to every other loop's room: one shared copy of the text.
    void relay_from(std::size_t from, const std::string& line) {
        auto text = std::make_shared<const std::string>(line);
        for (std::size_t k = 0; k < group_.size(); ++k)
            if (k != from) group_.post(k, [this, text] { rooms_.local().deliver(*text); });
    }

    bulb::LoopGroup& group_;
    bulb::PerLoop<ChatRoom> rooms_;
    std::vector<std::string> nicks_;  // loop 0 only
};
