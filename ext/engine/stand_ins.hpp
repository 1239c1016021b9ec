// Stand-ins for the application's own collations and functions on the
// extension's private connections. A schema may name a collation (an index on
// `email COLLATE unicode_ci`) or a function (an index on `is_email(email)`, a
// CHECK, a generated column) that only the application registers; a private
// connection cannot evaluate them, and without them SQLite refuses to prepare
// integrity_check at all. A stand-in collation compares bytes and a stand-in
// function returns NULL: enough to prepare and run everything else. Whatever
// depends on a stand-in is then reported as not checked (affected_objects),
// never as damaged.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "common/sqlite_api.hpp"

namespace wb {

class StandIns {
  public:
    // Registers a stand-in for every collation `db` turns out to need.
    explicit StandIns(sqlite3* db);
    StandIns(const StandIns&) = delete;
    StandIns& operator=(const StandIns&) = delete;

    // Prepares `sql` on the connection, adding a stand-in for each function
    // SQLite says it does not know, until it prepares. Throws Error when it
    // fails for another reason.
    sqlite3_stmt* prepare(const std::string& sql);

    bool any() const { return !collations_.empty() || !functions_.empty(); }
    const std::set<std::string>& collations() const { return collations_; }
    const std::set<std::string>& functions() const { return functions_; }

    // Each schema object whose check depends on a stand-in, with the reason:
    // {"users_email", "index users_email: collation unicode_ci is defined by the application"}.
    struct Affected {
        std::string name;
        std::string reason;
    };
    std::vector<Affected> affected_objects();

  private:
    static void on_collation_needed(void* self, sqlite3* db, int text_rep, const char* name);
    sqlite3* db_;
    std::set<std::string> collations_;
    std::set<std::string> functions_;
};

// Stand-ins for collations only, on a connection that only counts rows.
void install_collation_stand_ins(sqlite3* db);

} // namespace wb
