// Makes the engine's SQLite calls reach the real library (see real_sqlite.cpp).
#pragma once

// Returns false when the library could not be reached.
bool use_real_sqlite();
