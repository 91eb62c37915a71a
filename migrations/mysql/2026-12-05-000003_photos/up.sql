-- Catch photos. The files live in the photo store under the SHA-256 of
-- their bytes (one per size); a row says whose they are and where they are
-- used. A photo never attached is deleted a day after its upload.
CREATE TABLE photos (
    id          CHAR(32)    NOT NULL,
    owner_id    BIGINT      NOT NULL,
    width       INT         NOT NULL,
    height      INT         NOT NULL,
    bytes       BIGINT      NOT NULL,
    thumb       CHAR(64)    NOT NULL,
    display     CHAR(64)    NOT NULL,
    original    CHAR(64)    NOT NULL,
    auction_id  BIGINT      NULL,
    position    INT         NULL,
    created_at  DATETIME(6) NOT NULL,
    attached_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    KEY ix_photos_owner (owner_id, created_at),
    KEY ix_photos_orphans (attached_at, created_at),
    KEY ix_photos_auction (auction_id, position),
    KEY ix_photos_thumb (thumb),
    KEY ix_photos_display (display),
    KEY ix_photos_original (original),
    CONSTRAINT fk_photos_owner FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_photos_auction FOREIGN KEY (auction_id) REFERENCES auctions (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
