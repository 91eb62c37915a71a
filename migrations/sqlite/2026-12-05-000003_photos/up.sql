-- Catch photos. The files live in the photo store under the SHA-256 of
-- their bytes (one per size); a row says whose they are and where they are
-- used. A photo never attached is deleted a day after its upload.
CREATE TABLE photos (
    id          TEXT      NOT NULL PRIMARY KEY,
    owner_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    width       INTEGER   NOT NULL,
    height      INTEGER   NOT NULL,
    bytes       BIGINT    NOT NULL,
    thumb       TEXT      NOT NULL,
    display     TEXT      NOT NULL,
    original    TEXT      NOT NULL,
    auction_id  BIGINT    NULL REFERENCES auctions (id),
    position    INTEGER   NULL,
    created_at  TIMESTAMP NOT NULL,
    attached_at TIMESTAMP NULL
);
CREATE INDEX ix_photos_owner ON photos (owner_id, created_at);
CREATE INDEX ix_photos_orphans ON photos (attached_at, created_at);
CREATE INDEX ix_photos_auction ON photos (auction_id, position);
CREATE INDEX ix_photos_thumb ON photos (thumb);
CREATE INDEX ix_photos_display ON photos (display);
CREATE INDEX ix_photos_original ON photos (original);
