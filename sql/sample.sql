-- A small WeCare-like sample database: users and patients.
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL, role TEXT NOT NULL CHECK (role IN ('ADMIN', 'DEVELOPER', 'USER'))
);
CREATE TABLE IF NOT EXISTS patients(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, born TEXT, notes TEXT
);
INSERT OR IGNORE INTO users(email, role) VALUES
  ('admin@wecare.example', 'ADMIN'), ('dev@wecare.example', 'DEVELOPER'), ('nurse@wecare.example', 'USER');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO patients(name, born, notes)
SELECT 'Patient ' || i, date('1940-01-01', '+' || (i * 37 % 29000) || ' days'), hex(randomblob(64)) FROM n;
