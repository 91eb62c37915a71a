ALTER TABLE auctions DROP COLUMN reminded_minutes;
DROP TABLE notification_settings;
DROP TABLE notifications;
