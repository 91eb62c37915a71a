-- A lot's catch facts, delivery options and the model's species
-- suggestion, one row per auction that gave any (older auctions have none
-- and read as before).
CREATE TABLE auction_lots (
    auction_id            BIGINT       NOT NULL,
    weight_g              BIGINT       NULL,
    length_cm             BIGINT       NULL,
    caught_at             DATETIME(6)  NULL,
    catch_area            VARCHAR(100) NULL,
    catch_province        VARCHAR(16)  NULL,
    storage               VARCHAR(8)   NULL,
    pickup_province       VARCHAR(16)  NULL,
    pickup_place          VARCHAR(100) NULL,
    courier_fee           BIGINT       NULL,
    suggested_label       VARCHAR(100) NULL,
    suggested_name_ko     VARCHAR(100) NULL,
    suggested_probability DOUBLE       NULL,
    suggested_unknown     BOOLEAN      NULL,
    PRIMARY KEY (auction_id),
    CONSTRAINT fk_auction_lots_auction FOREIGN KEY (auction_id) REFERENCES auctions (id) ON DELETE CASCADE,
    CONSTRAINT ck_auction_lots_storage CHECK (storage IN ('live', 'iced', 'frozen'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
