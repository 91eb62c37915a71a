DROP TABLE fish_models;
