-- A lot's catch facts, delivery options and the model's species
-- suggestion, one row per auction that gave any (older auctions have none
-- and read as before).
CREATE TABLE auction_lots (
    auction_id            BIGINT    NOT NULL PRIMARY KEY REFERENCES auctions (id) ON DELETE CASCADE,
    weight_g              BIGINT    NULL,
    length_cm             BIGINT    NULL,
    caught_at             TIMESTAMP NULL,
    catch_area            TEXT      NULL,
    catch_province        TEXT      NULL,
    storage               TEXT      NULL CHECK (storage IN ('live', 'iced', 'frozen')),
    pickup_province       TEXT      NULL,
    pickup_place          TEXT      NULL,
    courier_fee           BIGINT    NULL,
    suggested_label       TEXT      NULL,
    suggested_name_ko     TEXT      NULL,
    suggested_probability DOUBLE    NULL,
    suggested_unknown     BOOLEAN   NULL
);
