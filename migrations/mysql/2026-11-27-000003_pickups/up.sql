-- Coffee-grounds pickups (supply offers from cafes, demand requests from
-- recyclers), the badge catalogue (seeded here) and awards.
CREATE TABLE pickups (
    id             BIGINT      NOT NULL AUTO_INCREMENT,
    owner_id       BIGINT      NOT NULL,
    kind           VARCHAR(8)  NOT NULL,
    grams          BIGINT      NOT NULL,
    measured_grams BIGINT      NULL,
    status         VARCHAR(16) NOT NULL DEFAULT 'waiting',
    province       VARCHAR(20) NULL,
    collector_id   BIGINT      NULL,
    version        BIGINT      NOT NULL DEFAULT 0,
    created_at     DATETIME(6) NOT NULL,
    claimed_at     DATETIME(6) NULL,
    completed_at   DATETIME(6) NULL,
    cancelled_at   DATETIME(6) NULL,
    PRIMARY KEY (id),
    KEY ix_pickups_owner (owner_id, id),
    KEY ix_pickups_collector (collector_id, status),
    KEY ix_pickups_status (status, kind, province),
    KEY ix_pickups_created (created_at),
    CONSTRAINT fk_pickups_owner FOREIGN KEY (owner_id) REFERENCES users (id),
    CONSTRAINT fk_pickups_collector FOREIGN KEY (collector_id) REFERENCES users (id),
    CONSTRAINT ck_pickups_kind CHECK (kind IN ('supply', 'demand')),
    CONSTRAINT ck_pickups_status CHECK (status IN ('waiting', 'on_way', 'completed', 'cancelled')),
    CONSTRAINT ck_pickups_grams CHECK (grams BETWEEN 100 AND 1000000)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE badges (
    code       VARCHAR(32)  NOT NULL,
    name_ko    VARCHAR(50)  NOT NULL,
    name_en    VARCHAR(50)  NOT NULL,
    how_ko     VARCHAR(200) NOT NULL,
    how_en     VARCHAR(200) NOT NULL,
    rarity     VARCHAR(16)  NOT NULL,
    image      VARCHAR(200) NOT NULL,
    sort_order INT          NOT NULL,
    PRIMARY KEY (code),
    CONSTRAINT ck_badges_rarity CHECK (rarity IN ('common', 'rare', 'epic', 'legendary'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE user_badges (
    user_id    BIGINT      NOT NULL,
    badge_code VARCHAR(32) NOT NULL,
    awarded_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, badge_code),
    CONSTRAINT fk_user_badges_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_badges_badge FOREIGN KEY (badge_code) REFERENCES badges (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

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
