<?php
// A small app: a form that greets, and the same answer as JSON (?format=json).
$name = trim($_POST['name'] ?? $_GET['name'] ?? 'world');
$answer = [
    'greeting' => "Hello, $name!",
    'php' => PHP_VERSION,
    'sapi' => PHP_SAPI,
    'runtime' => getenv('MOD_WASM_RUNTIME') ?: 'unknown',
    'name_sha256' => hash('sha256', $name),
];
if (($_GET['format'] ?? '') === 'json') {
    header('Content-Type: application/json');
    echo json_encode($answer, JSON_PRETTY_PRINT), "\n";
    return;
}
$greeting = htmlspecialchars($answer['greeting']);
?>
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>PHP <?= PHP_VERSION ?> in WebAssembly</title></head>
<body>
<h1 id="greeting"><?= $greeting ?></h1>
<p>PHP <?= PHP_VERSION ?> (<?= PHP_SAPI ?>) under <?= htmlspecialchars($answer['runtime']) ?>.</p>
<form method="post">
  <label>Your name <input name="name" value="<?= htmlspecialchars($name) ?>"></label>
  <button>Greet me</button>
</form>
</body>
</html>
