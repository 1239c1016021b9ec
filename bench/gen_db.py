#!/usr/bin/python3
"""Generate (or grow) a WeCare-like SQLite database of a given size.

Usage:
    /usr/bin/python3 bench/gen_db.py PATH [--size-mib 1024] [--seed 1]

The schema looks like a small clinic application: `users` (staff accounts),
`patients` (demographics, free-text notes) and `visits` (one row per
consultation with notes and vitals as JSON), with the indexes such an app
would have. Rows are added until the database file reaches the requested
size; running it again on an existing file with a larger size grows it (used
to make the 4 GiB database from the 1 GiB one). The result is in WAL mode with
an empty WAL.

How it works: free text is sliced from a pool of random words that is
regenerated every batch, plus random identifiers, so pages are neither
identical nor trivially compressible (roughly like real text). Rows are
inserted with executemany in transactions of a few MiB, with the journal off
during generation; the file is switched to WAL at the end.
"""

import argparse
import os
import random
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  full_name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin','doctor','nurse','reception')),
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_login_at TEXT
);
CREATE TABLE IF NOT EXISTS patients(
  id INTEGER PRIMARY KEY,
  mrn TEXT NOT NULL UNIQUE,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  sex TEXT NOT NULL,
  phone TEXT,
  email TEXT,
  address TEXT,
  city TEXT,
  postal_code TEXT,
  insurance_number TEXT,
  allergies TEXT,
  notes TEXT,
  created_by INTEGER REFERENCES users(id),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS patients_name ON patients(last_name, first_name);
CREATE INDEX IF NOT EXISTS patients_birth ON patients(birth_date);
CREATE TABLE IF NOT EXISTS visits(
  id INTEGER PRIMARY KEY,
  patient_id INTEGER NOT NULL REFERENCES patients(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  visit_at TEXT NOT NULL,
  reason TEXT NOT NULL,
  diagnosis_code TEXT,
  vitals TEXT,
  notes TEXT
);
CREATE INDEX IF NOT EXISTS visits_patient ON visits(patient_id, visit_at);
CREATE INDEX IF NOT EXISTS visits_user ON visits(user_id, visit_at);
"""

FIRST = ("Anna Ben Carla David Emma Felix Greta Hugo Ida Jonas Klara Lukas Mia "
         "Noah Olga Paul Rosa Samuel Tina Uwe Vera Walter Yara Zoe Amir Lea "
         "Mateo Sofia Ivan Leila Chen Aiko Omar Nina Pedro Hanna").split()
LAST = ("Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz "
        "Hoffmann Koch Richter Klein Wolf Neumann Schwarz Braun Zimmermann "
        "Kruger Hartmann Lange Werner Krause Lehmann Kohler Maier Keller Huber "
        "Garcia Rossi Novak Kowalski Yilmaz Nguyen Silva Jensen").split()
CITIES = ("Berlin Hamburg Munich Cologne Frankfurt Stuttgart Leipzig Dresden "
          "Bremen Hanover Nuremberg Bonn Kiel Mainz Freiburg Rostock").split()
STREETS = ("Hauptstrasse Bahnhofstrasse Gartenweg Lindenallee Schulstrasse "
           "Bergweg Kirchplatz Muhlenweg Rosenstrasse Waldweg").split()
ALLERGIES = ["", "", "", "penicillin", "latex", "peanuts", "pollen",
             "ibuprofen", "shellfish", "penicillin, latex"]
REASONS = ("check-up", "follow-up", "vaccination", "back pain", "headache",
           "fever", "blood test", "prescription renewal", "wound care",
           "hypertension control", "diabetes review", "cough")
WORDS = ("patient reports mild moderate severe pain since days weeks left right "
         "knee shoulder back chest abdomen headache dizziness nausea fatigue "
         "fever cough no history of allergy medication dose daily twice "
         "prescribed ibuprofen paracetamol amoxicillin metformin lisinopril "
         "blood pressure stable improved worse follow up in two weeks referred "
         "to specialist x-ray ordered lab results normal elevated glucose "
         "cholesterol advised rest fluids exercise diet smoking cessation "
         "sleep well poorly appetite weight gain loss examination "
         "unremarkable tender swelling redness rash wound healing sutures "
         "removed vaccination given tolerated well next visit scheduled "
         "the and with for was is on at after before during").split()


def word_pool(rng, n_words):
    """Random words plus random tokens (dosages, codes) so text varies."""
    words = rng.choices(WORDS, k=n_words)
    for i in range(0, n_words, 7):
        words[i] = "%d.%dmg" % (rng.randrange(1000), rng.randrange(10))
    for i in range(3, n_words, 11):
        words[i] = "%08x" % rng.getrandbits(32)
    return " ".join(words)


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def db_bytes(conn):
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return page_count * page_size


def generate(path, size_mib, seed, quiet=False):
    target = size_mib * 1024 * 1024
    rng = random.Random(seed ^ os.getpid() ^ int(time.time()))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MiB: keeps indexes hot
    conn.executescript(SCHEMA)

    if conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0:
        users = []
        for i in range(1, 201):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            users.append((i, "%s.%s%d" % (first.lower(), last.lower(), i),
                          "%s.%s@clinic.example" % (first.lower(), last.lower()),
                          "%s %s" % (first, last),
                          rng.choice(("admin", "doctor", "doctor", "nurse",
                                      "nurse", "reception")),
                          "$argon2id$v=19$m=65536,t=3,p=4$%032x$%064x" % (
                              rng.getrandbits(128), rng.getrandbits(256)),
                          iso(1.5e9 + rng.random() * 2e8),
                          iso(1.7e9 + rng.random() * 3e7)))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?,?)", users)
        conn.execute("COMMIT")

    next_patient = conn.execute(
        "SELECT coalesce(max(id), 0) + 1 FROM patients").fetchone()[0]
    started = time.time()
    while True:
        remaining = target - db_bytes(conn)
        if remaining <= 0:
            break
        # about 3 KiB per patient with its visits; smaller last batches
        batch_patients = max(50, min(2000, remaining // 3072))
        pool = word_pool(rng, 400_000)
        pool_len = len(pool) - 2000

        def text(lo, hi):
            start = rng.randrange(pool_len)
            return pool[start:start + rng.randrange(lo, hi)]

        patients, visits = [], []
        for pid in range(next_patient, next_patient + batch_patients):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            created = 1.4e9 + rng.random() * 3e8
            patients.append((
                pid, "MRN%09d" % pid, first, last,
                "%04d-%02d-%02d" % (rng.randrange(1930, 2024),
                                    rng.randrange(1, 13), rng.randrange(1, 29)),
                rng.choice("FMX"),
                "+49 %03d %07d" % (rng.randrange(1000), rng.randrange(10**7)),
                "%s.%s%d@mail.example" % (first.lower(), last.lower(), pid),
                "%s %d" % (rng.choice(STREETS), rng.randrange(1, 200)),
                rng.choice(CITIES), "%05d" % rng.randrange(100000),
                "INS-%012d" % rng.getrandbits(40), rng.choice(ALLERGIES),
                text(200, 1200), rng.randrange(1, 201),
                iso(created), iso(created + rng.random() * 1e8)))
            for _ in range(rng.randrange(1, 6)):
                visits.append((
                    pid, rng.randrange(1, 201),
                    iso(created + rng.random() * 1e8), rng.choice(REASONS),
                    "%s%02d.%d" % (rng.choice("ABCEIJKMNR"), rng.randrange(100),
                                   rng.randrange(10)),
                    '{"pulse":%d,"bp":"%d/%d","temp":%.1f,"weight":%.1f}' % (
                        rng.randrange(50, 110), rng.randrange(100, 170),
                        rng.randrange(60, 100), 36 + rng.random() * 3,
                        45 + rng.random() * 70),
                    text(100, 900)))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO patients VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            patients)
        conn.executemany(
            "INSERT INTO visits(patient_id,user_id,visit_at,reason,"
            "diagnosis_code,vitals,notes) VALUES (?,?,?,?,?,?,?)", visits)
        conn.execute("COMMIT")
        next_patient += batch_patients
        if not quiet:
            done = db_bytes(conn)
            print("\rgen_db: %6d / %d MiB  %.0f s" % (
                done >> 20, size_mib, time.time() - started),
                end="", file=sys.stderr, flush=True)
    if not quiet:
        print(file=sys.stderr)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    generate(args.path, args.size_mib, args.seed, args.quiet)


if __name__ == "__main__":
    main()
