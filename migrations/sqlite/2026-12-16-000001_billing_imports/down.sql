DROP TABLE billing_imports;
