<?php
// Notes on MariaDB (or MySQL), through both of PHP's MySQL drivers: mysqli writes a note,
// PDO lists them. Where the database is comes from the environment (WasmEnv DB_HOST, DB_PORT,
// DB_USER, DB_PASSWORD, DB_NAME); the connection is the location's to grant
// (WasmAllowConnect). ?format=json answers in JSON, for programs.
$config = [];
foreach (['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD', 'DB_NAME'] as $name) {
    $config[$name] = getenv($name) ?: '';
}
$json = ($_GET['format'] ?? '') === 'json';

function answer(int $status, array $data, bool $json): void
{
    http_response_code($status);
    if ($json) {
        header('Content-Type: application/json');
        echo json_encode($data), "\n";
        return;
    }
    header('Content-Type: text/html; charset=utf-8');
    echo "<!DOCTYPE html>\n<title>Notes</title>\n<h1>Notes</h1>\n";
    if (isset($data['error'])) {
        echo '<p id="error">The notes cannot reach their database: ', htmlspecialchars($data['error']), "</p>\n";
        return;
    }
    echo "<ul id=\"notes\">\n";
    foreach ($data['notes'] as $note) {
        echo '<li>', htmlspecialchars($note), "</li>\n";
    }
    echo "</ul>\n<form method=\"post\"><input name=\"note\"> <button>Add</button></form>\n";
    echo '<p id="server">', htmlspecialchars($data['server']), "</p>\n";
}

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
try {
    $mysqli = new mysqli($config['DB_HOST'], $config['DB_USER'], $config['DB_PASSWORD'],
        $config['DB_NAME'], (int) $config['DB_PORT']);
    $mysqli->set_charset('utf8mb4');
    $mysqli->query('CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)');
    if ($_SERVER['REQUEST_METHOD'] === 'POST' && ($_POST['note'] ?? '') !== '') {
        $insert = $mysqli->prepare('INSERT INTO notes (body) VALUES (?)');
        $insert->bind_param('s', $_POST['note']);
        $insert->execute();
    }
    $server = 'mysqli: ' . $mysqli->server_info;
    $mysqli->close();

    $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4',
        $config['DB_HOST'], (int) $config['DB_PORT'], $config['DB_NAME']);
    $pdo = new PDO($dsn, $config['DB_USER'], $config['DB_PASSWORD'],
        [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    $notes = $pdo->query('SELECT body FROM notes ORDER BY id')->fetchAll(PDO::FETCH_COLUMN);
    $server .= ', PDO: ' . $pdo->getAttribute(PDO::ATTR_DRIVER_NAME) . ' '
        . $pdo->getAttribute(PDO::ATTR_SERVER_VERSION);
    answer(200, ['notes' => $notes, 'server' => $server], $json);
} catch (mysqli_sql_exception | PDOException $e) {
    error_log('notes: ' . $e->getMessage());
    answer(503, ['error' => $e->getMessage()], $json);
}
