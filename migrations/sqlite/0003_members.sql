-- The NGO member register and the history of every change to it.

CREATE TABLE members (
    id            TEXT PRIMARY KEY,
    imie          TEXT NOT NULL,
    nazwisko      TEXT NOT NULL,
    wyksztalcenie TEXT NOT NULL,
    pesel         TEXT NOT NULL CONSTRAINT members_pesel_key UNIQUE,
    wojewodztwo   TEXT NOT NULL,
    miejscowosc   TEXT NOT NULL,
    ulica         TEXT NOT NULL,
    nrdomulokalu  TEXT NOT NULL,
    kodpocztowy   TEXT NOT NULL,
    email         TEXT NOT NULL,
    tel           TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX members_nazwisko ON members (nazwisko);

CREATE TABLE member_history (
    id        TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    actor_id  TEXT NOT NULL,
    action    TEXT NOT NULL,
    fields    TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX member_history_member ON member_history (member_id, at);
