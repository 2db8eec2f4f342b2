DROP TABLE wakeups;
