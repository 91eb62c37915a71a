-- SQLite twin of the MySQL migration of the same name.
CREATE TABLE pickups (
    id             INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    owner_id       BIGINT    NOT NULL REFERENCES users (id),
    kind           TEXT      NOT NULL CHECK (kind IN ('supply', 'demand')),
    grams          BIGINT    NOT NULL CHECK (grams BETWEEN 100 AND 1000000),
    measured_grams BIGINT    NULL,
    status         TEXT      NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'on_way', 'completed', 'cancelled')),
    province       TEXT      NULL,
    collector_id   BIGINT    NULL REFERENCES users (id),
    version        BIGINT    NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    claimed_at     TIMESTAMP NULL,
    completed_at   TIMESTAMP NULL,
    cancelled_at   TIMESTAMP NULL
);
CREATE INDEX ix_pickups_owner ON pickups (owner_id, id);
CREATE INDEX ix_pickups_collector ON pickups (collector_id, status);
CREATE INDEX ix_pickups_status ON pickups (status, kind, province);
CREATE INDEX ix_pickups_created ON pickups (created_at);

CREATE TABLE badges (
    code       TEXT    NOT NULL PRIMARY KEY,
    name_ko    TEXT    NOT NULL,
    name_en    TEXT    NOT NULL,
    how_ko     TEXT    NOT NULL,
    how_en     TEXT    NOT NULL,
    rarity     TEXT    NOT NULL CHECK (rarity IN ('common', 'rare', 'epic', 'legendary')),
    image      TEXT    NOT NULL,
    sort_order INTEGER NOT NULL
);

CREATE TABLE user_badges (
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    badge_code TEXT      NOT NULL REFERENCES badges (code),
    awarded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, badge_code)
);

INSERT INTO badges (code, name_ko, name_en, how_ko, how_en, rarity, image, sort_order) VALUES
    ('first_donation', '첫 기부', 'First donation', '커피박 수거를 처음으로 완료하세요', 'Complete your first coffee-grounds pickup', 'common', '/assets/badges/first_donation.svg', 1),
    ('lifetime_10kg', '10kg 달성', '10 kg', '누적 10kg을 기부하거나 수거하세요', 'Donate or collect 10 kg in total', 'common', '/assets/badges/lifetime_10kg.svg', 2),
    ('lifetime_100kg', '100kg 달성', '100 kg', '누적 100kg을 기부하거나 수거하세요', 'Donate or collect 100 kg in total', 'rare', '/assets/badges/lifetime_100kg.svg', 3),
    ('lifetime_1000kg', '1톤 클럽', 'One-tonne club', '누적 1,000kg을 기부하거나 수거하세요', 'Donate or collect 1,000 kg in total', 'legendary', '/assets/badges/lifetime_1000kg.svg', 4),
    ('five_pickups_month', '이달의 단골', 'Regular of the month', '한 달에 수거 5건을 완료하세요', 'Complete 5 pickups in one month', 'rare', '/assets/badges/five_pickups_month.svg', 5),
    ('four_active_weeks', '꾸준함', 'Steady', '4주 연속으로 수거를 완료하세요', 'Complete a pickup in 4 consecutive weeks', 'epic', '/assets/badges/four_active_weeks.svg', 6),
    ('province_first_month', '우리 동네 1등', 'First in the province', '이번 달 우리 지역에서 가장 먼저 수거를 완료하세요', 'Be the first in your province to complete a pickup this month', 'rare', '/assets/badges/province_first_month.svg', 7),
    ('first_sale', '첫 판매', 'First sale', '경매에서 처음으로 생선을 판매하세요', 'Sell your first fish at auction', 'common', '/assets/badges/first_sale.svg', 8),
    ('first_win', '첫 낙찰', 'First win', '경매에서 처음으로 낙찰받으세요', 'Win your first auction', 'common', '/assets/badges/first_win.svg', 9);
